"""symlik.testing.assert_loss_matches: passes correct losses, catches planted bugs, says where."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symlik
from symlik.testing import LossMismatch, assert_loss_matches

ROOT = Path(__file__).resolve().parents[1]


def bce_stable(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def bce_naive(z, y):
    with np.errstate(all="ignore"):
        s = 1 / (1 + np.exp(-z))
        return np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_correct_numpy_loss_passes(dtype):
    assert_loss_matches(bce_stable, "bernoulli", link="logit", dtype=dtype)
    assert_loss_matches(lambda mu, y: np.sum((y - mu) ** 2), "normal", reduction="sum", dtype=dtype)
    assert_loss_matches(lambda mu, y: np.abs(y - mu), "laplace", reduction="none", dtype=dtype)


def test_naive_bce_fails_with_a_readable_message():
    with pytest.raises(LossMismatch) as info:
        assert_loss_matches(bce_naive, "bernoulli", link="logit", dtype="float64")
    message = str(info.value)
    assert message.startswith("your loss does not match the derived bernoulli loss, link logit, reduction 'mean', float64:")
    assert re.search(r"worst at logits=[-\d.]+, y=[01]\.0:", message)
    assert "yours          = " in message and "derived        = " in message and "relative error = " in message


def test_reduction_mismatch_is_named():
    with pytest.raises(LossMismatch, match="observation by observation, but not over a batch"):
        assert_loss_matches(lambda mu, y: np.sum((y - mu) ** 2), "normal", reduction="mean")


def test_shape_mismatch_is_named():
    with pytest.raises(LossMismatch, match=r"returned shape \(\) for a batch of 64 where the derived one \(reduction=.none.\) has shape \(64,\)"):
        assert_loss_matches(lambda mu, y: np.mean((y - mu) ** 2), "normal", reduction="none")


def test_uncallable_loss_is_reported():
    def broken(z, y):
        raise TypeError("no")

    with pytest.raises(LossMismatch, match="could not call your loss with NumPy, torch or JAX inputs"):
        assert_loss_matches(broken, "bernoulli", link="logit", framework=None)


def test_bad_arguments():
    with pytest.raises(symlik.SymlikError, match="dtype must be float64 or float32"):
        assert_loss_matches(bce_stable, "bernoulli", link="logit", dtype="float16")
    with pytest.raises(symlik.SymlikError, match="unknown framework 'tensorflow'"):
        assert_loss_matches(bce_stable, "bernoulli", link="logit", framework="tensorflow")


# -- with torch -----------------------------------------------------------------------------------


def test_planted_bug_log_sigmoid_fails_at_minus_100_in_float32():
    """The issue's example: BCE through log(sigmoid(z)) loses everything at z = -100 in float32
    (sigmoid(-100) is a float32 denormal, 3.78e-44, whose log is 99.98, not 100)."""
    torch = pytest.importorskip("torch")

    def planted(z, y):
        return -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))).mean()

    with pytest.raises(LossMismatch) as info:
        assert_loss_matches(planted, "bernoulli", link="logit", reduction="mean", dtype="float32")
    failing = {(float(p["logits"][0]), float(p["y"][0])): (got, want) for p, got, want in info.value.failures}
    assert (-100.0, 1.0) in failing
    got, want = failing[(-100.0, 1.0)]
    assert want == pytest.approx(100.0, rel=1e-12)
    assert abs(got - want) > 1e-3
    assert "framework" not in str(info.value)  # detected torch without being told


def test_torch_losses_pass_with_options():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for dtype in ("float32", "float64"):
        assert_loss_matches(F.binary_cross_entropy_with_logits, "bernoulli", link="logit", dtype=dtype)
        assert_loss_matches(
            lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1), "categorical", link="softmax",
            label_smoothing=0.1, dtype=dtype,
        )
        assert_loss_matches(lambda m, y: F.huber_loss(m, y, delta=1.5), "huber", fixed={"delta": 1.5}, dtype=dtype)
        pw = torch.tensor(2.0, dtype=getattr(torch, dtype))
        assert_loss_matches(
            lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=pw), "bernoulli", link="logit",
            pos_weight=2.0, dtype=dtype,
        )


@pytest.mark.slow  # 4-6 s: in the slow suite, to keep README's test command under 5 minutes
def test_documented_example_runs(tmp_path):
    """docs/testing-your-loss.md's pytest example, run by pytest as a user's test file."""
    pytest.importorskip("torch")
    text = (ROOT / "docs" / "testing-your-loss.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def test_" in b)
    (tmp_path / "test_example.py").write_text(example, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_example.py")],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "4 passed" in run.stdout
