"""log(Phi(hi) - Phi(lo)), the log of a standard normal's mass on an interval, without
cancellation or underflow anywhere: shared by truncated_normal (the mass its interval keeps)
and lognormal_aft (an interval-censored time). The registry skips modules whose name starts
with an underscore, so this one is no catalog entry.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import InverseMills, Log1mExp, LogNdtr


def is_narrow(width, midpoint):
    """Where the midpoint series below replaces the difference of two logs, which would keep
    only log10(1/w) fewer digits: w max(1, |m|) < 1e-2, where its next term is below 3e-16."""
    return sp.And(width < sp.Rational(1, 100), width * sp.Abs(midpoint) < sp.Rational(1, 100))


def log_midpoint_series(width, midpoint):
    """log(1 + (m^2 - 1) w^2/24 + (m^4 - 6 m^2 + 3) w^4/1920): the mass of a narrow interval is
    phi(m) w times this, the midpoint series of the integral of phi."""
    m, w = midpoint, width
    return sp.log(1 + (m**2 - 1) * w**2 / 24 + (m**4 - 6 * m**2 + 3) * w**4 / 1920)


def wide_branches(lo, hi, width) -> list:
    """(log(Phi(hi) - Phi(lo)), condition) for an interval that is not narrow, as Piecewise args.

    In a tail, the mass is Phi(hi) (1 - Phi(lo)/Phi(hi)) (or its mirror image), and the log of the
    quotient is computed from log Phi(x) = -x^2/2 - log sqrt(2 pi) - log(phi(x)/Phi(x)) as
    w m + log(phi(hi)/Phi(hi)) - log(phi(lo)/Phi(lo)), w the width and m the midpoint: exactly
    equal, and w m is one product where log Phi(lo) - log Phi(hi) subtracts two numbers of size
    m^2/2 (at m = 1e16 their difference is below their rounding, and the mass came out as 0)."""
    w, m = width, (lo + hi) / 2
    return [
        # both bounds in the lower tail: Phi(hi) (1 - Phi(lo)/Phi(hi)), each factor by its log
        (LogNdtr(hi) + Log1mExp(w * m + sp.log(InverseMills(hi)) - sp.log(InverseMills(lo))), hi <= 0),
        # both in the upper tail: the same mass is Phi(-lo) - Phi(-hi), the lower tail again by symmetry
        (LogNdtr(-lo) + Log1mExp(-w * m + sp.log(InverseMills(-lo)) - sp.log(InverseMills(-hi))), lo >= 0),
        # across 0: 1 - Phi(lo) - Phi(-hi), both tails below 1/2, so log1p keeps every digit
        (sp.log(1 - sp.exp(LogNdtr(lo)) - sp.exp(LogNdtr(-hi))), True),
    ]


def log_normal_mass(lo, hi, width=None):
    """log(Phi(hi) - Phi(lo)) for lo < hi. ``width`` is hi - lo written without the subtraction
    where the caller has it ((b - a)/sigma, or an AFT's log1p of the relative width)."""
    w = hi - lo if width is None else width
    m = (lo + hi) / 2
    narrow = -(m**2) / 2 - sp.log(2 * sp.pi) / 2 + sp.log(w) + log_midpoint_series(w, m)
    return sp.Piecewise((narrow, is_narrow(w, m)), *wide_branches(lo, hi, w))
