"""User-style densities for the accuracy measurement: formulas as a user writes them for
``symlik.custom`` (with erf, exp and powers, no stable function named), so that the table shows
what the rewrites make of them. Each is the textbook density, not symlik's catalog entry."""

from __future__ import annotations

import sympy as sp

import symlik

_y, _m, _a, _s, _k, _w = sp.symbols("y m a s k omega", real=True)


# The names user_densities() gives its densities (tests check the table has each, without deriving).
USER_NAMES = ("skew_normal_erf", "generalized_logistic", "nakagami")


def user_densities():
    """(spec, predict) for each user-style density, in table order."""
    normal = sp.exp(-((_y - _m) ** 2) / 2) / sp.sqrt(2 * sp.pi)
    return (
        # Skew-normal (Azzalini 1985), written with erf: 2 phi(r) Phi(a r) = phi(r) (1 + erf(a r / sqrt 2)).
        (symlik.custom("skew_normal_erf", density=normal * (1 + sp.erf(_a * (_y - _m) / sp.sqrt(2))),
                       observed=_y, params={_m: "real", _a: "real"}), ("m",)),
        # Generalised logistic, type I (Johnson, Kotz & Balakrishnan 1995, ch. 23): a e^{-r} / (1 + e^{-r})^{a + 1}.
        (symlik.custom("generalized_logistic", density=_a * sp.exp(-(_y - _m)) / (1 + sp.exp(-(_y - _m))) ** (_a + 1),
                       observed=_y, params={_m: "real", _a: "positive"}), ("m",)),
        # Nakagami-m (Nakagami 1960): 2 k^k / (Gamma(k) w^k) y^(2k - 1) e^(-k y^2 / w), y > 0.
        (symlik.custom("nakagami", density=2 * _k**_k / (sp.gamma(_k) * _w**_k) * _y ** (2 * _k - 1) * sp.exp(-_k * _y**2 / _w),
                       observed=_y, params={_k: "positive", _w: "positive"}, support="positive"), ("omega",)),
    )


def user_derivations():
    for spec, predict in user_densities():
        yield symlik.derive(spec, predict=predict)


__all__ = ["USER_NAMES", "user_densities", "user_derivations"]
