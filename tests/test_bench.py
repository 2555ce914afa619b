"""``symlik bench`` at a tiny N: the table, the JSON and the ratios it reports."""

import json

import pytest

from symlik.apps import bench
from symlik.apps.cli import main


def test_bench_json_at_tiny_n(capsys):
    assert main(["bench", "--n", "2000", "--repeat", "2", "--dtype", "float32", "--backend", "numpy", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "#" in captured.err  # the progress bar, on stderr
    assert result["n"] == 2000 and set(result["reference"]) == {"float32"}
    losses = {r["loss"] for r in result["rows"]}
    assert {"mse", "mae", "bce_logits", "ce_logits", "gaussian_nll"} <= losses
    for loss in losses:
        rows = [r for r in result["rows"] if r["loss"] == loss]
        peers = [r for r in rows if r["kind"] == "peer"]
        assert any(r["implementation"] == "symlik numpy" for r in rows)
        best = min(r["median_ms"] for r in peers)
        for r in rows:
            assert r["median_ms"] > 0 and r["gbps"] == pytest.approx(r["bytes"] / r["median_ms"] / 1e6)
            assert r["vs_best_peer"] == pytest.approx(best / r["median_ms"])


def test_bench_table(capsys):
    assert main(["bench", "--n", "1000", "--repeat", "1", "--dtype", "float64", "--loss", "mse", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "read bandwidth reference (float64)" in out
    assert "numpy (hand-written)" in out and "symlik numpy" in out and "x best peer" in out


@pytest.mark.parametrize("argv,message", [
    (["bench", "--n", "0"], "positive integer"),
    (["bench", "--loss", "msee"], "did you mean 'mse'"),
    (["bench", "--backend", "fortran"], "unknown backend"),
])
def test_bench_bad_arguments_print_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_peer_closed_forms_are_the_textbook_ones():
    import numpy as np
    from scipy import special

    rng = np.random.default_rng(0)
    cases = {c.name: c for c in bench.CASES}
    z, y = rng.normal(size=50), (rng.random(50) < 0.5).astype(float)
    assert cases["bce_logits"].numpy(z, y) == pytest.approx(np.mean(-y * np.log(special.expit(z)) - (1 - y) * np.log(special.expit(-z))))
    L, c = rng.normal(size=(20, 100)), rng.integers(0, 100, 20)
    assert cases["ce_logits"].numpy(L, c) == pytest.approx(np.mean(-np.log(special.softmax(L, axis=-1)[np.arange(20), c])))
