"""Integrals and sums over a support, and expectations, done symbolically.

Shared by the normalisation check (does p integrate to 1?), the Fisher
information (E[-d^2 log p]) and the KL divergence (E_p[log p - log q]).
Every function returns ``None`` when SymPy cannot finish, so that callers
can say so plainly or fall back to numerics; none of them guesses.

Two habits keep SymPy on its fast paths: an integrand with |y - m| is split
at y = m and each half is written over t = |y - m| > 0 (so the absolute
value disappears), and an expectation is taken term by term, one moment
E[g(y)] per distinct g, rather than of the whole expression at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import sympy as sp
from sympy.functions.combinatorial.numbers import stirling

from symlik.core import budget
from symlik.core.algebra import clearly_varies, with_stand_ins
from symlik.core.errors import SymlikError

# Seconds SymPy may spend on one integral or sum (env SYMLIK_SYMBOLIC_TIMEOUT overrides; 0 = no limit).
DEFAULT_BUDGET = 20.0

# Finite discrete supports up to this size are summed term by term (exact, fast).
EXPLICIT_SUM_LIMIT = 64

_GAVE_UP = (NotImplementedError, ValueError, TypeError, AttributeError, RecursionError, ZeroDivisionError, IndexError)


def _budget_seconds() -> float:
    text = os.environ.get("SYMLIK_SYMBOLIC_TIMEOUT")
    if text is None or not text.strip():
        return DEFAULT_BUDGET
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:  # inf overflowed select(); nan skipped every check
        raise SymlikError(f"SYMLIK_SYMBOLIC_TIMEOUT must be a finite number of seconds >= 0 (0 = no limit); got {text!r}")
    return value


def within_budget(fn, *args):
    """fn(*args), run in a child process that is killed after the symbolic time limit.

    SymPy's integrate and summation cannot be interrupted and occasionally
    take minutes (the logistic Fisher information, say). A child process can
    be killed; its result comes back pickled (``symlik.core.budget``: fork
    where the platform has it, spawn elsewhere). The limit is
    SYMLIK_SYMBOLIC_TIMEOUT seconds (0 = none: fn runs here) or what is left
    of the enclosing time budget, whichever ends sooner; when the budget ran
    out this raises ``BudgetExceeded``. Returns None when the symbolic limit
    ran out; exceptions from fn come back as None too.
    """
    limit = _budget_seconds()
    if limit <= 0 and math.isinf(budget.remaining()):
        return fn(*args)
    try:
        return budget.run_in_child(fn, *args, limit=limit if limit > 0 else math.inf)
    except budget.BudgetExceeded:
        raise
    except budget.TimedOut:
        return None
    except Exception:  # noqa: BLE001 - any failure means "SymPy gave up"
        return None


def _definite_integral(expr, y, lo, hi):
    return sp.integrate(expr, (y, lo, hi), conds="none")


@dataclass(frozen=True)
class Domain:
    """Where y lives, with SymPy bounds (-oo/oo, numbers or parameter symbols)."""

    kind: str  # "continuous" or "discrete"
    lower: sp.Expr
    upper: sp.Expr
    masses: tuple = ()  # bounds where a continuous y has a probability mass (a censored normal's y = c)

    @property
    def discrete(self) -> bool:
        return self.kind == "discrete"


def domain_of(spec) -> Domain:
    """The scalar support of ``spec`` as a Domain (event supports are handled elsewhere)."""
    s = spec.support
    if s.kind not in ("continuous", "discrete"):
        raise NotImplementedError(f"support {s.kind} is not scalar")

    def bound(b, default):
        if b is None:
            return default
        if isinstance(b, str):
            return spec.symbol(b)
        return sp.nsimplify(b) if isinstance(b, float) else sp.sympify(b, strict=True)  # a number, never text (a name is handled above)

    if getattr(s, "period", None):  # a circular support: one period, centred on 0
        half = sp.nsimplify(s.period / 2, [sp.pi])
        return Domain(s.kind, -half, half)
    lower, upper = bound(s.lower, -sp.oo), bound(s.upper, sp.oo)
    masses = tuple(lower if side == "lower" else upper for side in getattr(s, "masses", ()))
    return Domain(s.kind, lower, upper, masses)


def _finished(value) -> sp.Expr | None:
    if value is None or value.has(sp.Integral, sp.Sum, sp.Limit) or value.has(sp.Piecewise):
        return None
    if value.has(sp.meijerg, sp.hyper):  # often gamma functions in disguise (Student-t moments)
        value = sp.hyperexpand(value)
        if value.has(sp.meijerg, sp.hyper):
            return None
    return value


def _abs_breakpoints(expr, y) -> list[sp.Expr]:
    """Where the arguments of |.|, sign and Heaviside vanish, if each is linear in y."""
    points = []
    args = [a.args[0] for a in expr.atoms(sp.Abs, sp.sign, sp.Heaviside)]
    for pw in expr.atoms(sp.Piecewise):  # mu <= y: the kink is where lhs - rhs vanishes
        for _, cond in pw.args:
            if isinstance(cond, sp.core.relational.Relational):
                args.append(cond.lhs - cond.rhs)
            elif cond is not sp.true:
                return []
    for arg in args:
        if not arg.has(y):
            continue
        try:
            poly = sp.Poly(arg, y)
        except sp.PolynomialError:
            return []
        if poly.degree() != 1:
            return []
        slope, intercept = poly.all_coeffs()
        root = sp.simplify(-intercept / slope)
        if root not in points:
            points.append(root)
    return points


def _inside(point, lo, hi) -> bool:
    above = lo == -sp.oo or sp.simplify(point - lo).is_nonnegative is True
    below = hi == sp.oo or sp.simplify(hi - point).is_nonnegative is True
    return above and below


def standardise(expr, y, lo, hi):
    """Location-scale families: substitute y = m + s u so the integrand loses m and s.

    An integrand that depends on y only through y - m (m a real parameter) is
    shifted to u = y - m; then, for a positive parameter s with f(s u) s = c(s) F(u),
    the scale is pulled out as c(s). The bounds move with y: (lo - m)/s, (hi - m)/s
    (a censored normal's c becomes (c - mu)/sigma). SymPy integrates the
    parameter-free F far faster (the Cauchy or logistic Fisher information in well
    under a second). Returns (factor, integrand, lo, hi) or None when nothing applies.
    """
    u = sp.Dummy("u", real=True)
    current, factor, changed = expr, sp.S.One, False
    for m in sorted((x for x in expr.free_symbols if x != y and x.is_real and not x.is_positive), key=str):
        shifted = current.xreplace({y: m + u})
        if shifted.has(m):  # y^2 - 2 m y + m^2 + c: expanded, each polynomial in u loses m
            shifted = shifted.replace(lambda e: isinstance(e, sp.Add) and e.has(u) and e.is_polynomial(u), sp.expand)
        if not shifted.has(m):
            current, changed = shifted.xreplace({u: y}), True
            lo, hi = lo - m, hi - m
            break
    for s_ in sorted((x for x in current.free_symbols if x != y and x.is_positive), key=str):
        scaled = current.xreplace({y: s_ * u}) * s_
        base = scaled.xreplace({s_: 1})
        if base == 0 or clearly_varies(scaled / base, [u]):  # random points disprove it: no simplify (seconds)
            continue
        ratio = sp.simplify(scaled / base)
        if not ratio.has(u) and ratio.has(s_):
            current, factor, changed = base.xreplace({u: y}), factor * ratio, True
            lo, hi = lo / s_, hi / s_
            break
    return (factor, current, lo, hi) if changed else None


def integrate(expr, y, lo, hi) -> sp.Expr | None:
    """The definite integral of ``expr`` over (lo, hi), or None if SymPy cannot do it."""
    standard = standardise(expr, y, lo, hi)
    if standard is not None:
        factor, inner, inner_lo, inner_hi = standard
        value = _integrate_split(inner, y, inner_lo, inner_hi)
        if value is not None:
            return sp.simplify(factor * value)
    return _integrate_split(expr, y, lo, hi)


def _integrate_split(expr, y, lo, hi) -> sp.Expr | None:
    points = _abs_breakpoints(expr, y)
    if len(points) == 2 and lo == -sp.oo and hi == sp.oo:
        value = _integrate_two_kinks(expr, y, *points)
        if value is not None:
            return value
    if len(points) == 1 and _inside(points[0], lo, hi):
        m = points[0]
        t = sp.Dummy("t", positive=True)
        left = expr.xreplace({y: m - t})
        right = expr.xreplace({y: m + t})
        parts = [_integrate_plain(left, t, 0, m - lo), _integrate_plain(right, t, 0, hi - m)]
        if all(p is not None for p in parts):
            return sp.simplify(parts[0] + parts[1])
    return _integrate_plain(expr, y, lo, hi)


def _integrate_two_kinks(expr, y, a, b) -> sp.Expr | None:
    """The integral over the real line of an integrand with kinks at a and b (|y - a|, |y - b|):
    split at both. Their order is unknown, so each order is taken in turn, writing the later
    kink as the earlier plus d > 0; on each of the three pieces every |.| is resolved by its
    sign at an inner point. When both orders give the same function of d, the integral is
    that function of |a - b|; otherwise None."""
    d = sp.Dummy("d", positive=True)
    t = sp.Dummy("t", positive=True)
    found = []
    for first, second in ((a, b), (b, a)):
        later = {second: first + d} if isinstance(second, sp.Symbol) else None
        if later is None:
            return None
        body = expr.xreplace(later)
        total = sp.S.Zero
        pieces = ((first - t, first - 1, (0, sp.oo)), (first + t, first + d / 2, (0, d)), (first + d + t, first + d + 1, (0, sp.oo)))
        for at, inner_point, (t_lo, t_hi) in pieces:
            resolved = body.replace(
                lambda e: isinstance(e, sp.Abs) and e.args[0].has(y),
                lambda e, point=inner_point: sp.sign(e.args[0].xreplace({y: point})) * e.args[0],
            )
            if resolved.has(sp.sign):
                return None
            part = _integrate_plain(resolved.xreplace({y: at}), t, t_lo, t_hi)
            if part is None:
                return None
            total += part
        found.append(sp.simplify(total))
    if sp.simplify(found[0] - found[1]) != 0:
        return None
    return sp.simplify(found[0].xreplace({d: sp.Abs(a - b)}))


def out_of_reach(expr, y) -> bool:
    """Is ``expr`` an integrand SymPy's integrator has no rule for, so that trying would only
    spend the whole time budget (20 s) before giving up? Two kinds are known:

    - a function marked ``no_closed_form_integral`` (the Tweedie series c_p(y, phi));
    - the reciprocal of an error function of y (the skew-normal's score has phi(a y) / Phi(a y),
      whose moments, Azzalini's a_k = E[y^k (phi(a y) / Phi(a y))^2], have no closed form).
    """
    for f in expr.atoms(sp.Function):
        if getattr(f, "no_closed_form_integral", False) and f.has(y):
            return True
    return any(p.exp.is_negative and p.base.has(y) and p.base.has(sp.erf, sp.erfc) for p in expr.atoms(sp.Pow))


def _integrate_plain(expr, y, lo, hi) -> sp.Expr | None:
    if lo == hi:
        return sp.S.Zero
    if out_of_reach(expr, y):
        return None
    value = gaussian_polynomial_integral(expr, y, lo, hi)
    if value is not None:
        return sp.simplify(value)
    rational = in_exponential(expr, y, lo, hi)
    if rational is not None:  # the same integral, of a rational function, which SymPy does at once
        expr, y, lo, hi = rational
    try:
        value = within_budget(_definite_integral, expr, y, lo, hi)
    except _GAVE_UP:
        return None
    value = _finished(value)
    if value is None:
        return None
    return sp.simplify(value)


def gaussian_polynomial_integral(expr, y, lo, hi) -> sp.Expr | None:
    """The integral over (lo, hi) of P(y) e^(-a y^2), P a polynomial and a > 0, by parts; else None.

    Integrating y^k e^(-a y^2) by parts gives the recursion
    I_k = [-y^(k-1) e^(-a y^2) / (2a)] from lo to hi + (k - 1)/(2a) I_(k-2), down to
    I_1 = (e^(-a lo^2) - e^(-a hi^2)) / (2a) and I_0 = sqrt(pi/a)/2 (erf(sqrt(a) hi) - erf(sqrt(a) lo)).
    These are the moments of a normal over a half-line (a censored or truncated normal's
    information), which SymPy's integrator takes seconds each to find with a symbolic bound.
    """
    gaussians = [e for e in expr.atoms(sp.exp) if e.has(y)]
    if len(gaussians) != 1:
        return None
    (gaussian,) = gaussians
    exponent = sp.expand(gaussian.args[0])
    if not exponent.is_polynomial(y) or sp.degree(exponent, y) != 2 or exponent.coeff(y, 1) != 0 or exponent.coeff(y, 0) != 0:
        return None
    a = -exponent.coeff(y, 2)
    if not a.is_positive:
        return None
    polynomial = sp.cancel(expr / gaussian)
    if not polynomial.is_polynomial(y):
        return None
    coefficients = sp.Poly(polynomial, y).all_coeffs()[::-1]  # coefficient of y^k at k
    lo, hi = sp.sympify(lo, strict=True), sp.sympify(hi, strict=True)  # numbers from a caller, never text

    def edge(k, b):  # y^(k-1) e^(-a y^2) at a bound: 0 at +-oo, where the exponential wins
        return sp.S.Zero if b.is_infinite else b ** (k - 1) * sp.exp(-a * b**2)

    found = [sp.sqrt(sp.pi / a) / 2 * (sp.erf(sp.sqrt(a) * hi) - sp.erf(sp.sqrt(a) * lo)),
             (edge(1, lo) - edge(1, hi)) / (2 * a)]
    for k in range(2, len(coefficients)):
        found.append((edge(k, lo) - edge(k, hi)) / (2 * a) + (k - 1) / (2 * a) * found[k - 2])
    return sp.Add(*(c * found[k] for k, c in enumerate(coefficients)))


def in_exponential(expr, y, lo, hi):
    """(q R(t) / t, t, e^(lo/q), e^(hi/q)) when ``expr`` is a rational function R of t = e^(y/q)
    (its exponentials, hyperbolic functions written out, are e^(k y) with k a rational of
    denominator q), else None.

    y = q log t turns the integral over (lo, hi) into that of a rational function of t, which
    SymPy integrates by partial fractions. The logistic family lives here: its Fisher
    information, the integral of e^(-y) / (2 (1 + e^(-y))^2 cosh(y/2)^2), SymPy gave up on after
    15 s over y; over t it is 2t/(1 + t)^4 on (0, oo), which it integrates at once (1/3).
    """
    hyperbolic = (sp.cosh, sp.sinh, sp.tanh, sp.sech, sp.csch, sp.coth)
    expr = expr.replace(lambda e: isinstance(e, hyperbolic) and e.has(y), lambda e: e.rewrite(sp.exp))
    rates = {}
    for e in expr.atoms(sp.exp):
        if e.has(y):
            rates[e] = sp.expand(e.args[0]) / y
            if not (rates[e].is_Rational and rates[e] != 0):
                return None
    if not rates:
        return None
    q = sp.ilcm(1, *(k.q for k in rates.values()))
    t = sp.Dummy("t", positive=True)
    body = expr.xreplace({e: t ** (k * q) for e, k in rates.items()})
    if body.has(y):
        return None
    body = sp.cancel(q * body / t)
    if not body.is_rational_function(t):
        return None
    return body, t, sp.exp(lo / q), sp.exp(hi / q)


def summation(expr, y, lo, hi, *, general: bool = True) -> sp.Expr | None:
    """The sum of ``expr`` over the integers lo..hi, or None if SymPy cannot do it (``general=False``:
    by the series rules here only, without SymPy's summation)."""
    try:
        if lo.is_Integer and hi.is_Integer and 0 <= hi - lo <= EXPLICIT_SUM_LIMIT:
            return sp.simplify(sp.Add(*(expr.subs(y, v) for v in range(int(lo), int(hi) + 1))))
        if out_of_reach(expr, y):
            return None
        split = _first_term_apart(expr, y, lo)
        if split is not None:  # a zero-inflated or hurdle count: y = lo by itself, then one branch
            first, rest = split
            # by the rules only: SymPy's summation spent 4-10 s failing on each zero-inflated
            # negative binomial's branch, where it had given up at once on the whole Piecewise
            value = summation(rest, y, lo + 1, hi, general=False)
            return None if value is None else sp.simplify(first + value)
        value = poisson_series(expr, y, lo, hi)
        if value is not None:
            return sp.simplify(value)
        if not general:
            return None
        value = within_budget(sp.summation, expr, (y, lo, hi))
    except _GAVE_UP:
        return None
    value = _finished(value)
    return None if value is None else sp.simplify(value)


def poisson_series(expr, y, lo, hi) -> sp.Expr | None:
    """The sum over y = lo, lo + 1, ... of P(y) r^y / y!, P a polynomial, r free of y; else None.

    Summing from 0, y^k r^y / y! gives e^r T_k(r), with T_k(r) = sum_j stirling(k, j) r^j the Touchard
    polynomial (Stirling numbers of the second kind); the terms below lo are taken off one by
    one. These are the Poisson family's moments (a zero-inflated Poisson's information from y = 1),
    which SymPy's summation takes seconds each to find.
    """
    if hi != sp.oo or not (lo.is_Integer and lo >= 0) or not expr.has(sp.factorial(y)):
        return None
    rates = [p for p in expr.atoms(sp.Pow) if p.exp == y and not p.base.has(y)]
    if len(rates) != 1:
        return None
    rate = rates[0].base
    polynomial = sp.cancel(expr * sp.factorial(y) / rates[0])
    if not polynomial.is_polynomial(y):
        return None
    coefficients = sp.Poly(polynomial, y).all_coeffs()[::-1]  # coefficient of y^k at k
    touchard = [sp.Add(*(stirling(k, j) * rate**j for j in range(k + 1))) for k in range(len(coefficients))]
    whole = sp.exp(rate) * sp.Add(*(c * t for c, t in zip(coefficients, touchard)))
    below = sp.Add(*(polynomial.subs(y, v) * rate**v / sp.factorial(v) for v in range(int(lo))))
    return whole - below


def _first_term_apart(expr, y, lo):
    """(expr at y = lo, expr with its conditions decided for y > lo) when conditions on y pick a
    branch at y = lo alone (a zero-inflated Poisson's Piecewise((.., Eq(y, 0)), (.., True))), else None.

    SymPy's summation gives up on a Piecewise in the summation index; from lo + 1 on a single
    branch is live, an ordinary series (the Poisson's, for the zero-inflated information)."""
    if lo.is_infinite or not any(c.has(y) for pw in expr.atoms(sp.Piecewise) for _, c in pw.args):
        return None
    rest = _decided_at(expr, y, lo + 1 + sp.Dummy("t", integer=True, nonnegative=True))  # any y > lo
    if any(c.has(y) for pw in rest.atoms(sp.Piecewise) for _, c in pw.args):
        return None  # a condition that does not settle for every y > lo: no split
    return expr.subs(y, lo), rest


def total(expr, y, domain: Domain) -> sp.Expr | None:
    """The integral (continuous) or sum (discrete) of ``expr`` over the domain; a mass at a bound
    adds ``expr`` there (expr holds the density, whose value at the bound is the mass)."""
    if domain.discrete:
        return summation(expr, y, domain.lower, domain.upper)
    if not domain.masses:
        return integrate(expr, y, domain.lower, domain.upper)
    value = integrate(interior(expr, y, domain), y, domain.lower, domain.upper)
    if value is None:
        return None
    return sp.simplify(value + sp.Add(*(expr.subs(y, point) for point in domain.masses)))


def interior(expr, y, domain: Domain) -> sp.Expr:
    """``expr`` with each condition on y decided for y strictly inside the domain.

    A censored density is Piecewise((mass, y <= c), (density, True)): on (c, oo) only the second
    branch is live, and handing SymPy the Piecewise instead makes it integrate every branch under
    conditions on c (minutes, for the Tobit information). Conditions are decided at y = lower + t
    (or upper - t) with t > 0, which holds wherever y is inside; undecided ones are left as they are.
    """
    t = sp.Dummy("t", positive=True)
    inside = domain.lower + t if domain.lower.is_finite is not False else domain.upper - t
    return expr if inside.is_finite is False else _decided_at(expr, y, inside)


def _decided_at(expr, y, point) -> sp.Expr:
    """``expr`` with each Piecewise condition on y replaced by its truth at y = ``point`` (a symbolic
    point standing for a whole range) where that settles it; the others are left as written."""

    def decided(condition):
        value = condition.subs(y, point)
        return value if value in (sp.true, sp.false) else condition

    return expr.replace(
        lambda e: isinstance(e, sp.Piecewise) and any(c.has(y) for _, c in e.args),
        lambda e: sp.Piecewise(*((v, decided(c)) for v, c in e.args)),
    )


def moments(expr, y) -> dict:
    """Split ``expr`` as a sum of coefficient * g(y): {g(y): coefficient}."""
    out: dict = {}
    # A branch free of y is a coefficient whatever it holds: kept whole through the expansion
    # (expanding into a truncated normal's four log-mass branches took 35 s, to no use)
    expanded = with_stand_ins(expr, lambda e: isinstance(e, sp.Piecewise) and not e.has(y), sp.expand)
    for term in sp.Add.make_args(expanded):
        dep, free = [], []
        for f in sp.Mul.make_args(term):
            (dep if f.has(y) else free).append(f)
        g = sp.Mul(*dep)
        out[g] = out.get(g, 0) + sp.Mul(*free)
    return out


def expectation(expr, y, density, domain: Domain, *, normalised: bool = True, cache: dict | None = None) -> sp.Expr | None:
    """E[expr] under ``density`` over the domain; None if SymPy cannot finish.

    When every y-dependent part g(y) of ``expr`` is free of the parameters
    (y, y^2, log y, ...), the expectation is taken term by term, one moment
    E[g(y)] each; ``cache`` (g(y) -> E[g(y)]) shares them between calls and
    lists, afterwards, which were used (for the rendered derivation).
    Otherwise (a Cauchy score, say) the whole integrand is integrated at
    once, after pulling out location and scale.
    """
    cache = {} if cache is None else cache
    parts = moments(expr, y)
    result = sp.S.Zero
    deltas = [g for g in parts if g.has(sp.DiracDelta)]
    for g in deltas:  # point masses first, by sifting
        value = _sift(g, y, density)
        if value is None:
            return None
        result += parts.pop(g) * value
    if any(g.free_symbols - {y} for g in parts):
        # the unexpanded form keeps y - m together, so location and scale can be pulled out
        rest = sp.Add(*(c * g for g, c in parts.items())) if deltas else expr
        value = total(rest * density, y, domain)
        return None if value is None else sp.simplify(result + value)
    for g, coeff in parts.items():
        if g == 1 and normalised:
            value = sp.S.One
        elif g in cache:
            value = cache[g]
        else:
            value = total(g * density, y, domain)
            if value is None:
                return None
            cache[g] = value
        result += coeff * value
    return sp.simplify(result)


def _sift(g, y, density) -> sp.Expr | None:
    """E[h(y) delta(a y + c)] = h(r) p(r) / |a| at the root r (the sifting property).

    Done by hand: splitting the integral at a kink (see ``integrate``) would
    put the delta exactly on the boundary of both halves.
    """
    deltas = [f for f in sp.Mul.make_args(g) if isinstance(f, sp.DiracDelta)]
    if len(deltas) != 1 or len(deltas[0].args) != 1:
        return None
    try:
        poly = sp.Poly(deltas[0].args[0], y)
    except sp.PolynomialError:
        return None
    if poly.degree() != 1:
        return None
    slope, intercept = poly.all_coeffs()
    root = -intercept / slope
    rest = sp.Mul(*(f for f in sp.Mul.make_args(g) if f is not deltas[0]))
    return sp.simplify((rest * density).subs(y, root) / sp.Abs(slope))
