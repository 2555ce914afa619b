"""Figures: the curves drawn are the loss and gradient of closed forms; the CLI writes files or one-line errors."""

import numpy as np
import pytest

import symlik

pytest.importorskip("matplotlib")

from symlik.apps import plot  # noqa: E402
from symlik.apps.cli import main  # noqa: E402


def _curves(d):
    axis = plot.event_axis(d) if d.event else plot.scalar_axis(d)
    return axis, [plot.loss_and_gradient(d, axis, values) for _, values in axis.curves]


def test_normal_is_the_square_of_the_residual():
    axis, [(loss, grad)] = _curves(symlik.derive("normal"))
    r = axis.values
    assert axis.y_is_residual
    np.testing.assert_allclose(loss, r**2, atol=1e-12)
    np.testing.assert_allclose(grad, -2 * r, atol=1e-6)  # d (y - mu)^2 / d mu


def test_bce_with_logits_against_softplus():
    axis, curves = _curves(symlik.derive("bernoulli", link="logit"))
    z = axis.values
    for (_, values), (loss, grad) in zip(axis.curves, curves):
        y = values["y"]
        np.testing.assert_allclose(loss, np.logaddexp(0, z) - y * z, rtol=1e-12)
        np.testing.assert_allclose(grad, 1 / (1 + np.exp(-z)) - y, atol=1e-6)
    assert sorted(v["y"] for _, v in axis.curves) == [0.0, 1.0]  # both labels, from the support


def test_cross_entropy_against_log_softmax():
    axis, [(loss, grad)] = _curves(symlik.derive("categorical", link="softmax"))
    z = axis.values
    lse = np.logaddexp(z, np.log(2.0))  # log(e^z + e^0 + e^0)
    np.testing.assert_allclose(loss, lse - z, rtol=1e-12)
    np.testing.assert_allclose(grad, np.exp(z - lse) - 1, atol=1e-6)


def test_compare_curves_are_the_templates():
    r = np.linspace(-3, 3, 61)
    curves = plot.residual_curves(["mse", "mae"], r)
    np.testing.assert_allclose(curves["mse"][0], r**2)
    np.testing.assert_allclose(curves["mae"][1][r != 0], np.sign(r[r != 0]))  # psi of |r| is sign(r)


@pytest.mark.slow  # 14 s over the catalog (matplotlib figures)
def test_every_catalog_entry_draws(derivation):
    fig = plot.loss_figure(derivation)
    lines = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert len(lines) >= 2  # a loss curve and a gradient curve at least
    for line in lines:
        assert np.isfinite(np.asarray(line.get_ydata(), float)).mean() > 0.9
    labels = [ax.get_xlabel() for ax in fig.axes] + [ax.get_ylabel() for ax in fig.axes]
    assert all(labels)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_cli_writes_each_format(tmp_path, capsys, suffix, magic):
    out = tmp_path / f"bce{suffix}"
    assert main(["plot", "bernoulli", "--link", "logit", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # nothing half-written beside it


def test_cli_compare(tmp_path):
    out = tmp_path / "compare.svg"
    assert main(["plot", "--compare", "mse", "mae", "-o", str(out)]) == 0
    assert b"<svg" in out.read_bytes()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plot", "--compare", "mse", "nope"], "nope"),
        (["plot", "normal", "-o", "x.txt"], ".png"),
        (["plot"], "NAME"),
        (["plot", "normal", "--compare", "mse"], "not both"),
        (["plot", "--compare", "mse[delta=x]"], "KEY=NUMBER"),
        (["plot", "--compare", "mse[delta=1]"], "no parameter"),
        (["plot", "nonexistent_dist"], "nonexistent_dist"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symlik: error:") and err.count("\n") == 1 and message in err
    assert not list(tmp_path.iterdir())


def test_compare_draws_the_robust_losses_against_closed_forms():
    """log_cosh, cauchy and huber (from docs/getting-started.md) are residual losses; other slots at 1."""
    r = np.linspace(-3, 3, 61)
    curves = plot.residual_curves(["log_cosh", "cauchy", "huber_loss[delta=1.5]"], r)
    np.testing.assert_allclose(curves["log_cosh"][0], np.log(np.cosh(r)), atol=1e-12)
    np.testing.assert_allclose(curves["log_cosh"][1], np.tanh(r), atol=1e-12)
    np.testing.assert_allclose(curves["cauchy"][0], np.log1p(r**2), atol=1e-12)
    np.testing.assert_allclose(curves["cauchy"][1], 2 * r / (1 + r**2), atol=1e-12)
    huber, psi = curves["huber_loss (delta=1.5)"]
    np.testing.assert_allclose(huber, np.where(abs(r) <= 1.5, r**2 / 2, 1.5 * (abs(r) - 0.75)), atol=1e-12)
    np.testing.assert_allclose(psi, np.clip(r, -1.5, 1.5), atol=1e-12)


def test_residual_losses_are_exactly_the_losses_of_y_minus_mu():
    names = set(plot.residual_loss_names())
    assert {"mse", "mae", "huber_loss", "log_cosh", "cauchy", "student_t"} <= names
    # a deviance is a loss of y and mu, not of y - mu; BCE's slot is a probability
    assert not names & {"gamma_deviance", "inverse_gaussian_deviance", "binary_cross_entropy", "poisson_nll"}


def test_the_books_heavy_tails_figure_draws_what_its_text_discusses():
    from symlik.apps import book

    names = book._compare_names()
    assert {"mse", "mae", "log_cosh", "cauchy"} <= set(names)
    text = book.intro_tex([])
    for shown in ("log-cosh", "Cauchy"):
        assert shown in text


def test_hessian_figure_draws_the_exact_and_the_fisher_hessian():
    """docs/boosting.md's figure: Student-t (nu = 4, mu = 0, sigma = 1) in mu and log sigma, against
    the closed forms (nu + 1)(nu - r^2)/(nu + r^2)^2, 2 nu (nu + 1) r^2/(nu + r^2)^2 (exact) and
    (nu + 1)/(nu + 3), 2 nu/(nu + 3) (Fisher)."""
    nu = 4.0
    fig = plot.hessian_figure(nu=nu)
    (ax_mu, ax_log_sigma) = fig.axes
    exact_mu, fisher_mu = ax_mu.get_lines()[:2]
    exact_ls, fisher_ls = ax_log_sigma.get_lines()[:2]
    r = exact_mu.get_xdata()
    np.testing.assert_allclose(exact_mu.get_ydata(), (nu + 1) * (nu - r**2) / (nu + r**2) ** 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(exact_ls.get_ydata(), 2 * nu * (nu + 1) * r**2 / (nu + r**2) ** 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fisher_mu.get_ydata(), (nu + 1) / (nu + 3), rtol=1e-12)
    np.testing.assert_allclose(fisher_ls.get_ydata(), 2 * nu / (nu + 3), rtol=1e-12)
    assert plot.render(fig, "svg").startswith(b"<?xml")
