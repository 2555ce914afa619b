"""``symlik bench`` at a tiny N: the table, the JSON and the ratios it reports."""

import json

import pytest

from symlik.apps import bench
from symlik.apps.cli import main


def test_bench_json_at_tiny_n(capsys):
    # The library peers are left out (each is tested below): torch.compile alone compiles for a minute here.
    assert main(["bench", "--n", "2000", "--repeat", "2", "--dtype", "float32", "--backend", "numpy", "--peer", "numpy",
                 "--json"]) == 0
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
    assert main(["bench", "--n", "1000", "--repeat", "1", "--dtype", "float64", "--loss", "mse", "--backend", "numpy",
                 "--peer", "numpy"]) == 0
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


def test_bench_sweep_modes_and_peers_structure(capsys):
    """--sizes, --mode and --peer: one row per size x loss x mode x implementation, with
    min <= median <= max; the forward+backward rows time the NumPy backend's value_and_grad."""
    argv = ["bench", "--sizes", "64", "300", "--repeat", "2", "--dtype", "float64", "--loss", "mse", "ce_logits",
            "--backend", "numpy", "--mode", "forward", "forward+backward", "--peer", "numpy", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sizes"] == [64, 300] and result["modes"] == ["forward", "forward+backward"]
    assert result["peers"] == ["numpy"]
    seen = {(r["n"], r["loss"], r["mode"], r["implementation"]) for r in result["rows"]}
    assert seen == {(n, loss, mode, impl) for n in (64, 300) for loss in ("mse", "ce_logits")
                    for mode in ("forward", "forward+backward") for impl in ("numpy (hand-written)", "symlik numpy")}
    for r in result["rows"]:
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"]


def test_bench_table_shows_min_median_max(capsys):
    assert main(["bench", "--n", "500", "--repeat", "2", "--dtype", "float32", "--loss", "poisson_nll",
                 "--backend", "numpy", "--peer", "numpy", "--mode", "forward+backward"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("loss"))
    assert header.split() == ["loss", "dtype", "n", "mode", "implementation", "min", "ms", "median", "ms", "max", "ms",
                              "GB/s", "x", "best", "peer"]
    assert "forward+backward" in out


def test_bench_bad_mode_and_peer_print_one_line(capsys):
    for argv in (["bench", "--mode", "backward"], ["bench", "--peer", "tensorflow"], ["bench", "--sizes", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1


def test_hand_written_gradients_are_the_gradients():
    """The forward+backward NumPy peer's gradients against central differences of its own closed form
    (the closed forms are checked against scipy above)."""
    import numpy as np

    rng = np.random.default_rng(1)
    for case in bench.CASES:
        data = case.make(300, "float64", rng)
        values = list(data.values())
        value, grads = case.numpy_value_and_grad(*values)
        assert value == pytest.approx(case.numpy(*values), rel=1e-12)
        for i, g in enumerate(grads):
            x = values[i]
            idx = (0,) * x.ndim
            h = 1e-6 * max(1.0, abs(float(x[idx])))
            up, down = [v.copy() for v in values], [v.copy() for v in values]
            up[i][idx] += h
            down[i][idx] -= h
            assert g[idx] == pytest.approx((case.numpy(*up) - case.numpy(*down)) / (2 * h), rel=1e-5, abs=1e-10)


@pytest.mark.parametrize("peer", ["torch", pytest.param("torch.compile", marks=pytest.mark.slow), "jax.jit"])
def test_library_peers_compute_the_same_loss(peer):
    """Each library peer, forward and forward+backward, gives the hand-written NumPy value."""
    import numpy as np

    pytest.importorskip("jax" if peer == "jax.jit" else "torch")
    rng = np.random.default_rng(2)
    for case in bench.CASES:
        data = case.make(400, "float64", rng)
        want = case.numpy(*data.values())
        for mode in bench.MODES:
            impls = bench._implementations(case, data, [], mode, peers=[peer])
            assert len(impls) == 1
            out = impls[0][2]()
            value = out[0] if mode == "forward+backward" else out
            assert float(value) == pytest.approx(want, rel=1e-10), (case.name, mode)
