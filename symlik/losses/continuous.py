"""Losses of continuous regression: robust, quantile, log-scale, GLM deviances, circular.

Templates with an inner parameter (pinball's tau, log-cosh's residual scale
c, lp's power beta, the Student-t / Cauchy width) compute candidate values
from the NLL itself in ``calibrate``: from the shape of the NLL as a function
of the residual r = y - theta (its slopes, its Taylor coefficients at r = 0,
its log-log slope). The matcher then proves nll == scale * loss + offset with
the value found; a wrong candidate simply fails the proof. No calibration
looks at a distribution's or a parameter's name.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.algebra import clearly_nonzero, clearly_varies, has_switch, is_zero
from symlik.losses.templates import Template

# The residual r = y - theta, on one side of 0 (r > 0), for profiles.
_R = sp.Dummy("r", positive=True)


def _profile(nll, y, predicted):
    """(f(r), f(-r)) with f(r) = nll at y = theta + r, for r > 0; None unless
    there is one prediction and the NLL depends on y and theta only through
    y - theta (a location family)."""
    if len(predicted) != 1:
        return None
    theta = predicted[0]
    sides = []
    for r in (_R, -_R):
        f = nll.subs(y, theta + r)
        if f.has(theta):
            if clearly_varies(f, [theta]):  # no simplification removes theta then (and simplify may take minutes)
                return None
            if any(c.has(theta) for pw in f.atoms(sp.Piecewise) for _, c in pw.args):
                # a branch chosen by theta itself, not by y - theta (a truncated normal's mass in
                # (a - mu)/sigma): no location family, and simplify ran for minutes on it
                return None
            f = sp.simplify(f)
            if f.has(theta):
                return None
        sides.append(f)
    return tuple(sides)


def _valid(value) -> bool:
    """A usable inner value: finite, real, free of the residual and provably positive."""
    return value is not None and value.is_finite is not False and not value.has(_R, sp.nan, sp.zoo) and value.is_positive is True


def _calibrated(inner: str, solve):
    """A template's ``calibrate`` for one inner parameter: ``solve(nll, y, predicted)`` reads a
    candidate value off the NLL (None when the NLL has not the template's shape); a usable one
    is offered to the matcher, whose proof decides."""

    def calibrate(nll, y, predicted):
        value = solve(nll, y, predicted)
        if _valid(value):
            yield {inner: value}

    calibrate.__doc__ = solve.__doc__
    return calibrate


def _taylor(f, order):
    """Taylor coefficients a_0..a_order of a smooth f at r = 0."""
    out = []
    d = f
    for n in range(order + 1):
        value = sp.simplify(d.subs(_R, 0))
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return None
        out.append(value / sp.factorial(n))
        d = sp.diff(d, _R)
    return out


def _even_coefficients(nll, y, predicted):
    """(a2, a4) of a symmetric, smooth profile f(r) = a0 + a2 r^2 + a4 r^4 + ..., or None."""
    sides = _profile(nll, y, predicted)
    if sides is None or any(s.has(sp.Abs, sp.Piecewise, sp.Max, sp.Min, sp.sign) for s in sides):
        return None
    coeffs = _taylor(sides[0], 4)
    if coeffs is None or not is_zero(coeffs[1]) or not is_zero(coeffs[3]) or coeffs[4] == 0:
        return None
    return coeffs[2], coeffs[4]


# ---------------------------------------------------------------------------
# Quantile loss.
# ---------------------------------------------------------------------------


def _pinball_tau(nll, y, predicted):
    """tau from the slopes: a pinball NLL is linear on each side of r = 0, with
    slope tau/b to the right and (1 - tau)/b to the left, so
    tau = right / (right + left)."""
    sides = _profile(nll, y, predicted)
    if sides is None:
        return None
    right, left = (sp.simplify(sp.diff(f, _R)) for f in sides)
    if right.has(_R) or left.has(_R) or is_zero(right + left):
        return None
    return sp.simplify(right / (right + left))


pinball = Template(
    "pinball",
    "pinball (quantile) loss at level tau",
    ("quantile",),
    lambda y, mu, tau: sp.Max(tau * (y - mu), (tau - 1) * (y - mu)),
    "Pinball",
    inner=("tau",),
    calibrate=_calibrated("tau", _pinball_tau),
    torch="(no built-in; max(tau * r, (tau - 1) * r))",
    doc="max(tau (y - mu), (tau - 1)(y - mu))",
)


# ---------------------------------------------------------------------------
# Robust losses of the residual, with a width solved from the Taylor series.
# ---------------------------------------------------------------------------


def _lorentzian_width(nll, y, predicted):
    """(c, A) with nll = A log(1 + r^2/c) + const: from a2 = A/c and a4 = -A/(2 c^2),
    c = -a2 / (2 a4) and A = a2 c."""
    found = _even_coefficients(nll, y, predicted)
    if found is None:
        return None
    a2, a4 = found
    c = sp.simplify(-a2 / (2 * a4))
    if not _valid(c):
        return None
    return c, sp.simplify(a2 * c)


def _cauchy_gamma(nll, y, predicted):
    """gamma = sqrt(c), when the NLL is (1 + r^2/c) to the power 1: the Cauchy
    density. Another power (nu + 1)/2 is Student's t with nu = 2 A - 1."""
    found = _lorentzian_width(nll, y, predicted)
    if found is None or not is_zero(found[1] - 1):
        return None
    return sp.sqrt(found[0])


cauchy = Template(
    "cauchy",
    "Cauchy (Lorentzian) loss",
    ("location",),
    lambda y, mu, gamma: sp.log(1 + (y - mu) ** 2 / gamma**2),
    "Cauchy",
    inner=("gamma",),
    calibrate=_calibrated("gamma", _cauchy_gamma),
    torch="(no built-in; log1p((r / gamma)^2))",
    doc="log(1 + (y - mu)^2 / gamma^2)",
)


def _student_t_c(nll, y, predicted):
    """c = nu sigma^2, the width of the Lorentzian profile (any power)."""
    found = _lorentzian_width(nll, y, predicted)
    return None if found is None else found[0]


student_t = Template(
    "student_t",
    "Student-t loss",
    ("location",),
    lambda y, mu, c: sp.log(1 + (y - mu) ** 2 / c),
    "StudentT",
    inner=("c",),
    calibrate=_calibrated("c", _student_t_c),
    torch="(no built-in; log1p(r^2 / (nu sigma^2)))",
    doc="log(1 + (y - mu)^2 / c), c = nu sigma^2",
)


def _log_cosh_c(nll, y, predicted):
    """c from log cosh(x) = x^2/2 - x^4/12 + ...: with x = r/c,
    a2 = A/(2 c^2) and a4 = -A/(12 c^4), so c^2 = -a2 / (6 a4)."""
    found = _even_coefficients(nll, y, predicted)
    if found is None:
        return None
    a2, a4 = found
    return sp.sqrt(sp.simplify(-a2 / (6 * a4)))


log_cosh = Template(
    "log_cosh",
    "log-cosh loss",
    ("location",),
    lambda y, mu, c: sp.log(sp.cosh((y - mu) / c)),
    "LogCosh",
    inner=("c",),
    calibrate=_calibrated("c", _log_cosh_c),
    torch="(no built-in; log(cosh(r / c)))",
    doc="log(cosh((y - mu) / c))",
)


def _lp_beta(nll, y, predicted):
    """beta from the log-log slope: for f(r) = A r^beta + const (r > 0),
    f'(r) = A beta r^(beta - 1), so r d/dr log f'(r) = beta - 1."""
    sides = _profile(nll, y, predicted)
    if sides is None or sides[0].has(sp.Piecewise):
        # A r^beta + const has no branches on r > 0 (an |r| or a Max has folded away there); a
        # profile that keeps one (the GEV's support and series) is no power, and simplifying its
        # log-slope took SymPy over 10 minutes
        return None
    slope = sp.diff(sides[0], _R)
    if slope == 0:
        return None
    return sp.simplify(1 + _R * sp.diff(sp.expand_log(sp.log(slope), force=True), _R))


lp = Template(
    "lp",
    "L^p loss |y - mu|^beta",
    ("location",),
    lambda y, mu, beta: sp.Abs(y - mu) ** beta,
    "Lp",
    inner=("beta",),
    calibrate=_calibrated("beta", _lp_beta),
    torch="(no built-in; abs(r) ** beta)",
    doc="|y - mu|^beta",
)


# ---------------------------------------------------------------------------
# Losses with no inner parameter.
# ---------------------------------------------------------------------------

mse_log = Template(
    "mse_log",
    "squared error of log y",
    ("mean of log y",),
    lambda y, mu: (sp.log(y) - mu) ** 2,
    "MSELog",
    torch="mse_loss(mu, log(y))",
    doc="(log y - mu)^2",
)

gamma_deviance = Template(
    "gamma_deviance",
    "gamma deviance",
    ("mean",),
    lambda y, mu: 2 * (sp.log(mu / y) + y / mu - 1),
    "GammaDeviance",
    torch="(no built-in; sklearn.metrics.mean_gamma_deviance)",
    doc="2 (log(mu / y) + y / mu - 1)",
)

inverse_gaussian_deviance = Template(
    "inverse_gaussian_deviance",
    "inverse Gaussian deviance",
    ("mean",),
    lambda y, mu: (y - mu) ** 2 / (y * mu**2),
    "InvGaussDeviance",
    torch="(no built-in; sklearn.metrics.mean_tweedie_deviance with power=3)",
    doc="(y - mu)^2 / (y mu^2)",
)

cosine = Template(
    "cosine",
    "cosine loss of an angle",
    ("mean direction",),
    lambda y, mu: 1 - sp.cos(y - mu),
    "CosineLoss",
    torch="(no built-in; 1 - cos(y - mu))",
    doc="1 - cos(y - mu)",
)



def _tweedie_power(nll, y, predicted):
    """The power p from the slope: a Tweedie deviance has d nll / d mu = A (mu - y) mu^-p,
    zero at mu = y, so p = -mu d/dmu log(slope / (mu - y)). Powers 1 and 2 are left to the
    Poisson NLL and the gamma deviance (the general formula divides by 1 - p and 2 - p)."""
    if len(predicted) != 1 or predicted[0].is_positive is not True:
        return None
    mu = predicted[0]
    slope = sp.diff(nll, mu)
    if slope == 0 or has_switch(slope) or clearly_nonzero(slope.subs(mu, y)):
        return None
    power = sp.simplify(-mu * sp.diff(sp.expand_log(sp.log(slope / (mu - y)), force=True), mu))
    if power.has(mu, y) or power in (1, 2):
        return None
    return power


def _tweedie_deviance(y, mu, power):
    return 2 * (y ** (2 - power) / ((1 - power) * (2 - power)) - y * mu ** (1 - power) / (1 - power) + mu ** (2 - power) / (2 - power))


tweedie_deviance = Template(
    "tweedie_deviance",
    "Tweedie deviance",
    ("mean",),
    _tweedie_deviance,
    "TweedieDeviance",
    inner=("power",),
    calibrate=_calibrated("power", _tweedie_power),
    torch="(no built-in; sklearn.metrics.mean_tweedie_deviance(power=p))",
    doc="2 (y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p))",
)

# Cheap, parameter-free templates first; cauchy before student_t (a Cauchy
# NLL fits both, with nu = 1, and the narrower name is the better one); the Tweedie
# deviance last: at p = 0 and 3 it is MSE and the inverse Gaussian deviance, named first.
SCALAR: tuple[Template, ...] = (
    mse_log,
    gamma_deviance,
    inverse_gaussian_deviance,
    cosine,
    pinball,
    cauchy,
    student_t,
    log_cosh,
    lp,
    tweedie_deviance,
)
