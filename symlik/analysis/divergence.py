"""KL divergences derived by integration or summation: ``symlik.kl(p, q)``.

KL(p || q) = E_{y ~ p}[log p(y) - log q(y)]. The log-ratio is expanded and
its expectation taken term by term (one moment E_p[g(y)] per distinct g),
by integrating or summing over the support (``symlik.core.expectation``):

- scalar supports: an integral (normal, exponential, ...) or a sum
  (bernoulli over {0, 1}, poisson over 0, 1, 2, ...);
- one-hot supports (categorical): the log-ratio is linear in the one-hot
  y, so E[y_k] = p(e_k) is read off the density at the k-th unit vector;
- factorised vector supports (diag_normal): the density is a product over
  components, so the KL is the sum over k of one-dimensional KLs.

Nothing is looked up: the closed forms in the tests (Kingma & Welling's
1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2), ...) are independent oracles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from symlik.analysis.information import _listed, _nicer_negated, tidy
from symlik.core import expectation as E
from symlik.core.algebra import expand_logs, log_of, split_sum, sum_parts
from symlik.core.document import Document
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.core.functions import DensityOf
from symlik.core.notation import form, term
from symlik.core.presentation import ShownAsDocument
from symlik.core.step import Step, reason
from symlik.model.distributions import get, names
from symlik.model.distributions.base import Distribution

# The pairs rendered into derivations/ (when both are in the catalog):
# (p name, p options, q name, q options, q parameter values, slug)
PAIRS = (
    ("normal", {}, "normal", {}, None, "kl-normal-normal"),
    ("diag_normal", {"sigma": "per_dim"}, "diag_normal", {}, {"mu": 0, "sigma": 1}, "kl-diag-normal-standard-normal"),
    ("bernoulli", {}, "bernoulli", {}, None, "kl-bernoulli-bernoulli"),
    ("categorical", {}, "categorical", {}, None, "kl-categorical-categorical"),
    ("poisson", {}, "poisson", {}, None, "kl-poisson-poisson"),
    ("exponential", {}, "exponential", {}, None, "kl-exponential-exponential"),
)


class DensityOfQ(sp.Function):
    """q(y | theta), for display only (DensityOf prints p)."""

    def _sympystr(self, printer):
        y, *theta = self.args
        return "q(%s | %s)" % (printer._print(y), ", ".join(printer._print(t) for t in theta))

    def _pretty(self, printer):
        return printer._print(sp.Symbol(sp.sstr(self)))


class Expectation(sp.Function):
    """E_{y ~ p}[f(y)], for display only."""

    nargs = 1

    def _sympystr(self, printer):
        return "E_p[%s]" % printer._print(self.args[0])

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        inner = printer._print(self.args[0])
        return prettyForm(*prettyForm(*inner.parens("[", "]")).left("E_p"))


@dataclass(frozen=True)
class KL(ShownAsDocument):
    """KL(p || q): ``expr`` in the parameters ``p_params`` / ``q_params`` (name -> SymPy value)."""

    p: Distribution
    q: Distribution
    p_params: dict
    q_params: dict
    expr: sp.Expr
    log_ratio: sp.Expr  # log p(y) - log q(y), expanded (per component for event distributions)
    moments: dict = field(default_factory=dict)  # g(y) -> E_p[g(y)] used
    y: sp.Expr | None = None
    index: sp.Symbol | None = None  # the event index k (vector distributions)
    rules: tuple = ()  # Steps deriving the moments SymPy's integrator could not take
    outside: bool = False  # p puts mass where q has none: the KL is infinite

    @property
    def slug(self) -> str:
        return f"kl-{self.p.name}-{self.q.name}".replace("_", "-")

    def document(self, slug: str | None = None):
        return kl_document(self, slug)

    def __repr__(self) -> str:
        return f"<KL {self.p.label} || {self.q.label}: {sp.sstr(self.expr)}>"


def _resolve(spec, options, which) -> Distribution:
    if isinstance(spec, Distribution):
        return type(spec)(**{**spec.chosen, **(options or {})}) if options else spec
    if isinstance(spec, str):
        return get(spec, **(options or {}))
    raise SymlikError(f"{which} must be a distribution name or a Distribution; got {type(spec).__name__}")


def _parameters(spec: Distribution, given: dict | None, suffix: str, which: str) -> dict:
    """name -> the SymPy value used for it: the given value, or a fresh symbol (with ``suffix``)."""
    given = dict(given or {})
    for name in given:
        if name not in spec.param_names:
            raise UnknownNameError(f"parameter of {spec.name} ({which})", name, spec.param_names)
    out = {}
    for p in spec.effective_params():
        if p.name in given:
            value = given[p.name]
            if isinstance(value, float):
                value = sp.nsimplify(value)  # exact: 0.5 is 1/2
            elif isinstance(value, int) and not isinstance(value, bool):
                value = sp.Integer(value)
            if not isinstance(value, sp.Basic):
                raise SymlikError(f"{which} parameter {p.name} must be a number or a SymPy expression; got {value!r}")
            out[p.name] = value
            continue
        name = p.name + suffix
        if p.event:
            out[p.name] = sp.IndexedBase(name, **p.constraint.assumptions)[spec.index]
        else:
            out[p.name] = sp.Symbol(name, **p.constraint.assumptions)
    return out


def _check_supports(p: Distribution, q: Distribution) -> bool:
    """True when p's support lies inside q's (then the KL is the expectation over p's support);
    False when p puts mass where q has none (then the KL is infinite)."""
    if p.support == q.support or (p.support.kind == q.support.kind and p.support.kind not in ("continuous", "discrete")):
        return True
    scalar = ("continuous", "discrete")
    bounds = (p.support.lower, p.support.upper, q.support.lower, q.support.upper)
    if p.support.kind in scalar and q.support.kind == p.support.kind and p.support.upper is None and isinstance(q.support.upper, str):
        return False  # q's support ends at a parameter (a binomial's n), p's goes on: p has mass beyond it
    if p.support.kind not in scalar or q.support.kind != p.support.kind or any(isinstance(b, str) for b in bounds):
        raise NotSupportedError(
            f"KL({p.name} || {q.name}) needs the same support kind (both continuous or both discrete, with numeric bounds); {p.name} lives on {p.support.describe()} "
            f"and {q.name} on {q.support.describe()}"
        )
    p_lo, p_hi, q_lo, q_hi = (-np.inf if b is None and i % 2 == 0 else np.inf if b is None else b for i, b in enumerate(bounds))
    # the end points of a continuous support carry no mass, so open and closed ends compare alike
    return q_lo <= p_lo and p_hi <= q_hi


def kl(p, q, *, p_params: dict | None = None, q_params: dict | None = None, p_options=None, q_options=None) -> KL:
    """Derive KL(p || q) symbolically.

    Parameters
    ----------
    p, q : str or Distribution
        Catalog names or Distributions (e.g. from ``symlik.custom``) with the same support.
    p_params, q_params : dict, optional
        Values (numbers or SymPy expressions) for some parameters; the others get
        symbols, suffixed ``_p`` / ``_q`` when both sides would otherwise share a name.
    p_options, q_options : dict, optional
        Distribution options, e.g. ``{"sigma": "per_dim"}`` for diag_normal.

    >>> import symlik
    >>> r = symlik.kl("diag_normal", "diag_normal", p_options={"sigma": "per_dim"},
    ...               q_params={"mu": 0, "sigma": 1})
    >>> r.expr  # doctest: +NORMALIZE_WHITESPACE
    Sum(mu[k]**2/2 + sigma[k]**2/2 - log(sigma[k]) - 1/2, (k, 1, D))
    """
    p = _resolve(p, p_options, "p")
    q = _resolve(q, q_options, "q")
    inside = _check_supports(p, q)
    if p.is_event and p.support.kind != q.support.kind:
        raise NotSupportedError(f"KL({p.name} || {q.name}): different event supports")
    q_given = set(q_params or {})
    p_given = set(p_params or {})
    shared = (set(p.param_names) - p_given) & (set(q.param_names) - q_given)
    p_vals = _parameters(p, p_params, "_p" if shared else "", "p")
    q_vals = _parameters(q, q_params, "_q" if shared else "", "q")
    if not inside:
        return KL(p, q, p_vals, q_vals, sp.oo, sp.S.Zero, {}, p.y, outside=True)
    if p.support.kind in ("continuous", "discrete"):
        return _scalar(p, q, p_vals, q_vals)
    if p.support.kind == "onehot":
        return _onehot(p, q, p_vals, q_vals)
    if p.support.kind == "reals_vector":
        return _factorised(p, q, p_vals, q_vals)
    if p.support.kind == "simplex":
        return _simplex(p, q, p_vals, q_vals)
    raise NotSupportedError(f"KL over the support {p.support.describe()} is not derived yet")


def _log_density(spec, y, values):
    log = spec.log_density(y, **values)
    return expand_logs(log) if log is not None else log_of(spec.density(y, **values))


def _scalar(p, q, p_vals, q_vals) -> KL:
    y = p.y
    ratio = sp.expand(_log_density(p, y, p_vals) - _log_density(q, y, q_vals))
    density = p.density(y, **p_vals)
    moments: dict = {}
    domain = E.domain_of(_bound(p, p_vals))
    value = E.expectation(ratio, y, density, domain, cache=moments)
    rules: list = []
    if value is None:  # moment by moment, with the score identity where integration fails
        moments = {}
        value = _by_moments(p, p_vals, ratio, y, density, domain, moments, rules)
    if value is None:
        raise NotSupportedError(f"SymPy cannot take the expectation for KL({p.name} || {q.name})")
    return KL(p, q, p_vals, q_vals, _tidy(value), ratio, moments, y, rules=tuple(rules))


def _by_moments(p, p_vals, ratio, y, density, domain, moments, rules):
    """E_p[ratio] one moment E_p[g(y)] at a time: each by the score identity (below) or, failing
    that, by integration (or summation) over the support; None if some moment is out of reach."""
    total = sp.S.Zero
    for g, coeff in E.moments(ratio, y).items():
        value = sp.S.One if g == 1 else _moment(p, p_vals, g, y, density, domain, moments, rules, depth=0)
        if value is None:
            return None
        total += coeff * value
    return sp.simplify(total)


def _moment(p, p_vals, g, y, density, domain, moments, rules, depth):
    if g in moments:
        return moments[g]
    value = _by_poisson_kernel(g, y, density, domain, rules)
    if value is None and depth < 2:
        value = _by_score(p, p_vals, g, y, density, domain, moments, rules, depth)
    if value is None:
        value = _by_shift(p, p_vals, g, y, density, rules)
    if value is None:
        value = _by_exponential_substitution(g, y, density, domain, rules)
    if value is None:
        value = _by_log_substitution(g, y, density, domain, rules)
    if value is None:
        value = E.total(g * density, y, domain)
    if value is not None:
        moments[g] = sp.simplify(value)
    return moments.get(g)


def _quadratic(expr, y):
    """(leading coefficient, centre, half-width) when expr = A ((y - c)^2 + w^2) with A, w > 0, else None."""
    expr = sp.expand(expr)
    if not expr.is_polynomial(y) or sp.degree(expr, y) != 2:
        return None
    a2, a1, a0 = (sp.expand(expr).coeff(y, k) for k in (2, 1, 0))
    centre = sp.simplify(-a1 / (2 * a2))
    width = sp.sqrt(sp.factor(sp.simplify(a0 / a2 - centre**2)))
    if not (a2.is_positive and width.is_positive):
        return None
    return a2, centre, sp.simplify(width)


def _by_poisson_kernel(g, y, density, domain, rules):
    """E[log((y - a)^2 + b^2)] under a Cauchy density on the real line, with b > 0.

    The Cauchy density s / (pi ((y - m)^2 + s^2)) is the Poisson kernel of the upper half-plane at
    m + i s: for h harmonic there (and growing no faster than log |y|), E[h(y)] = h(m + i s).
    log((y - a)^2 + b^2) = 2 log |y - (a - i b)| is harmonic in the upper half-plane, a - i b lying
    below it, so E[log((y - a)^2 + b^2)] = log((m - a)^2 + (s + b)^2): no integral is taken.
    """
    if not isinstance(g, sp.log) or domain.lower != -sp.oo or domain.upper != sp.oo:
        return None
    numer, denom = sp.fraction(sp.together(density))
    kernel, inner = _quadratic(denom, y), _quadratic(g.args[0], y)
    if kernel is None or inner is None or numer.has(y):
        return None
    lead, m, s = kernel
    if sp.simplify(numer / lead - s / sp.pi) != 0:
        return None
    c, a, b = inner
    value = sp.log(c) + sp.log((m - a) ** 2 + (s + b) ** 2)
    rules.append(
        Step(
            f"The moment of {sp.sstr(g)}, by the Poisson kernel",
            value,
            reason(
                "The density is ", sp.Eq(density, s / (sp.pi * ((y - m) ** 2 + s**2))), ", the Poisson kernel of the upper "
                "half-plane at ", m + sp.I * s, ": for a function harmonic there, its expectation is its value at that point. ",
                sp.Eq(g, sp.log(c) + sp.log((y - a) ** 2 + b**2), evaluate=False), ", and ", sp.log((y - a) ** 2 + b**2),
                " is twice the log of the distance from ", y, " to ", a - sp.I * b, ", which lies below the real line: "
                "harmonic in the upper half-plane. Its value at ", m + sp.I * s, " is the moment.",
            ),
            form("moment", g),
        )
    )
    return value


def _by_shift(p, p_vals, g, y, density, rules):
    """E[g(y)] when g(y) p(y | theta) = c p(y | theta + j) with c free of y: the shifted density
    integrates to 1 over the same support, so E[g] = c (for the beta, y p(y | a, b) =
    a / (a + b) p(y | a + 1, b))."""
    for name, theta in p_vals.items():
        if not isinstance(theta, sp.Symbol) or name in (p.support.lower, p.support.upper):
            continue
        for j in (1, 2):
            shifted = p.density(y, **{**p_vals, name: theta + j})
            c = sp.simplify(sp.gammasimp(sp.powsimp(g * density / shifted, force=True)))
            if c.has(y) or c == 0:
                continue
            rules.append(
                Step(
                    f"The moment of {sp.sstr(g)}, from a shifted density",
                    c,
                    reason(
                        g, " times the density with ", theta, " is ", c, " times the density with ", sp.Eq(theta, theta + j),
                        ", which also integrates to ", sp.S.One, " over the support.",
                    ),
                    form("moment", g),
                )
            )
            return c
    return None


def _by_exponential_substitution(g, y, density, domain, rules):
    """E[g(y)] over the real line for a density in exp(a y + c) (the Gumbel's double exponential):
    substitute t = exp(a y + c), so y = (log t - c) / a and dy = dt / (|a| t) over t in (0, inf),
    where the integrals are gamma functions and their derivatives (Gumbel moments)."""
    if domain.discrete or domain.lower != -sp.oo or domain.upper != sp.oo:
        return None
    exps = density.atoms(sp.exp)
    linear = {e for e in exps if e.args[0].has(y) and not sp.diff(e.args[0], y).has(y)}
    inner = sorted((e for e in linear if any(o != e and o.has(e) for o in exps)), key=sp.default_sort_key)
    t = sp.Symbol("t", positive=True)
    for e in inner:
        a = sp.diff(e.args[0], y)
        c = sp.simplify(e.args[0] - a * y)
        if a.is_positive is None and a.is_negative is None:
            continue
        back = (sp.log(t) - c) / a
        integrand = sp.powsimp(sp.expand_power_exp(sp.expand((g * density).xreplace({y: back}) / (sp.Abs(a) * t))), force=True)
        value = _euler_integral(integrand, t)
        if value is None:
            continue
        value = sp.simplify(value)
        rules.append(
            Step(
                f"The moment of {sp.sstr(g)}, by substituting t = {sp.sstr(e)}",
                value,
                reason(
                    "Substitute ", sp.Eq(t, e), ": ", sp.Eq(y, back), " and the real line maps onto ", sp.Interval.open(0, sp.oo),
                    ". Each term is then ", term("euler_integral_derivative"), ", Euler's integral ",
                    term("euler_integral"), " differentiated n times in s under the integral sign.",
                ),
                form("moment", g),
            )
        )
        return value
    return None


def _by_log_substitution(g, y, density, domain, rules):
    """E[g(y)] over (0, inf) for a density in log y (the lognormal): substitute y = e^u, dy = e^u du,
    which maps (0, inf) onto the real line and log y onto u."""
    if domain.discrete or domain.lower != 0 or domain.upper != sp.oo or not density.has(sp.log(y)):
        return None
    u = sp.Symbol("u", real=True)
    integrand = sp.expand_log(sp.powsimp((g * density).xreplace({y: sp.exp(u)}) * sp.exp(u), force=True), force=True)
    value = E.integrate(sp.simplify(integrand), u, -sp.oo, sp.oo)
    if value is None:
        return None
    rules.append(
        Step(
            f"The moment of {sp.sstr(g)}, by substituting y = exp(u)",
            value,
            reason(
                "Substitute ", sp.Eq(y, sp.exp(u)), ": ", sp.Eq(sp.log(y), u), ", the element of length is ", sp.exp(u),
                " du, and ", sp.Interval.open(0, sp.oo), " maps onto the real line.",
            ),
            form("moment", g),
        )
    )
    return value


def _euler_integral(integrand, t):
    """The integral over t in (0, inf) of a sum of terms K t^s log(t)^n e^(-t): each is the n-th
    derivative in s of Euler's integral Gamma(s + 1) = integral of t^s e^(-t) dt (differentiation
    under the integral sign); None when a term is not of that form."""
    s = sp.Dummy("s")
    total = sp.S.Zero
    def split_exp(e):  # exp(A + c log t) = t^c exp(A)
        parts = sp.Add.make_args(sp.expand(e.args[0]))
        logs = [x for x in parts if (x / sp.log(t)).is_number is not None and not (x / sp.log(t)).has(t)]
        return sp.Mul(*(t ** (x / sp.log(t)) for x in logs)) * sp.exp(sp.Add(*(x for x in parts if x not in logs)))

    expanded = sp.expand(sp.expand_log(integrand, force=True))
    expanded = sp.expand(expanded.replace(lambda e: isinstance(e, sp.exp) and e.has(sp.log(t)), split_exp))
    for item in sp.Add.make_args(expanded):
        factors = sp.Mul.make_args(item)
        n = sum(int(f.exp) if isinstance(f, sp.Pow) and f.base == sp.log(t) else 1 if f == sp.log(t) else 0 for f in factors)
        rest = sp.powsimp(item / sp.log(t) ** n, force=True)
        if rest.has(sp.log(t)):
            return None
        exponent = sp.simplify(t * sp.diff(sp.expand_log(sp.log(rest), force=True), t) + t)  # rest = K t^s e^(-t)
        if exponent.has(t):
            return None
        K = sp.simplify(sp.powsimp(rest / (t**exponent * sp.exp(-t)), force=True))
        if K.has(t):
            return None
        total += K * sp.diff(sp.gamma(s + 1), s, n).subs(s, exponent)
    return sp.simplify(total)


def _by_score(p, p_vals, g, y, density, domain, moments, rules, depth):
    """E[g(y)] from the score identity E_p[d log p / d theta] = 0.

    Differentiating the normalisation 1 = integral of p(y | theta) dy in a parameter theta under
    the integral (the support does not move with theta) gives E_p[d log p / d theta] = 0. When
    d log p / d theta = c g(y) + sum_h c_h h(y) with c free of y, E[g] = -sum_h c_h E[h] / c: for
    the gamma, d log p / d k has log y, so E[log y] = psi(k) - log(k / mu) without integrating
    log y y^(k-1) e^(-k y / mu); for the beta E[log y] = psi(a) - psi(a + b).
    """
    log_p = _log_density(p, y, p_vals)
    for name, theta in p_vals.items():
        if not isinstance(theta, sp.Symbol) or name in (p.support.lower, p.support.upper):
            continue  # a parameter that moves the support cannot be differentiated under the integral
        score = sp.expand(expand_logs(sp.diff(log_p, theta)))
        parts = E.moments(score, y)
        if g not in parts or parts[g].has(y):
            continue
        rest = sp.S.Zero
        for h, c in parts.items():
            if h == g:
                continue
            value = sp.S.One if h == 1 else _moment(p, p_vals, h, y, density, domain, moments, rules, depth + 1)
            if value is None:
                break
            rest += c * value
        else:
            value = sp.simplify(-rest / parts[g])
            rules.append(
                Step(
                    f"The moment of {sp.sstr(g)}, by differentiating under the integral",
                    value,
                    reason(
                        "Differentiate ", term("density_integrates_to_one"), " in ", theta, " under the integral "
                        "(the support does not depend on ", theta, "): ", sp.Eq(form("moment", form("partial", term("log_p"), theta)), 0),
                        ". Here ", sp.Eq(form("partial", term("log_p"), theta), score), "; solve for ", form("moment", g),
                        " with the moments already found.",
                    ),
                    form("moment", g),
                )
            )
            return value
    return None


def _bound(spec, values):
    """The spec, with support bounds that name a parameter read from ``values``."""
    s = spec.support
    if not isinstance(s.lower, str) and not isinstance(s.upper, str):
        return spec

    class _Bounded:
        support = s

        @staticmethod
        def symbol(name):
            return values[name]

    return _Bounded


def _onehot(p, q, p_vals, q_vals) -> KL:
    """One-hot y: E[y_k] = p(e_k); the log-ratio must be linear in y."""
    k, K = p.index, p.K
    y = p.y  # y[k]
    ratio = split_sum(sp.expand(split_sum(_log_density(p, y, p_vals) - _log_density(q, y, q_vals))))
    summand, rest = sum_parts(ratio, k)
    summand = sp.expand(summand)
    if sp.diff(summand, y, 2) != 0 or rest.has(y.base):
        raise NotSupportedError(f"KL({p.name} || {q.name}): the log-ratio is not linear in the one-hot target")
    slope = sp.simplify(sp.diff(summand, y))
    constant = sp.simplify(summand - slope * y)
    # E[y_k] = p(e_k): the log-density at the k-th unit vector, from its own linear form.
    log_p = split_sum(sp.expand(split_sum(_log_density(p, y, p_vals))))
    lp_summand, lp_rest = sum_parts(log_p, k)
    lp_slope = sp.simplify(sp.diff(sp.expand(lp_summand), y))
    lp_const = sp.simplify(sp.expand(lp_summand) - lp_slope * y)
    if lp_const != 0 or lp_rest.has(y.base) or sp.diff(sp.expand(lp_summand), y, 2) != 0:
        raise NotSupportedError(f"KL({p.name} || {q.name}): the density of p is not of the form prod_k a_k^y_k")
    mean_k = sp.simplify(sp.exp(lp_slope + lp_rest))  # p(e_k)
    ratio = sp.Sum(summand, (k, 1, K)) + rest  # one sum over k, for display
    value = split_sum(sp.Sum(sp.expand(slope * mean_k), (k, 1, K))) + split_sum(sp.Sum(constant, (k, 1, K))) + rest
    value = _tidy_event(value, k, K)
    return KL(p, q, p_vals, q_vals, value, ratio, {y: mean_k}, y, k)


def _simplex(p, q, p_vals, q_vals) -> KL:
    """Densities on the simplex whose log is linear in the log y_k (the Dirichlet): the KL needs
    E[log y_k], found by the score identity. Differentiating the normalisation in the k-th
    parameter a_k under the integral gives E[d log p / d a_k] = 0, and d log p / d a_k is
    log y_k plus terms free of y."""
    k, K = p.index, p.K
    y = p.y  # y[k]
    log_p = split_sum(sp.expand(split_sum(_log_density(p, y, p_vals))))
    ratio = split_sum(sp.expand(split_sum(log_p - _log_density(q, y, q_vals))))
    summand, rest = sum_parts(ratio, k)
    mark = sp.Dummy("log_y")
    marked = sp.expand(summand).xreplace({sp.log(y): mark})
    slope, constant = sp.diff(marked, mark), sp.expand(marked - sp.diff(marked, mark) * mark)
    if marked.has(y.base) or slope.has(mark) or constant.has(mark) or rest.has(y.base):
        raise NotSupportedError(f"KL({p.name} || {q.name}): the log-ratio is not linear in the log y_k")
    # the score in the k-th parameter a_k: per component (a scalar a stands for a_k) plus the part
    # outside the sum, whose sums over the parameter are each differentiated as d/da_k sum_j a_j = 1
    vector = [v for v in p_vals.values() if isinstance(v, sp.Indexed)]
    if len(vector) != 1:
        raise NotSupportedError(f"KL({p.name} || {q.name}): needs one vector parameter")
    a_k = vector[0]
    a = sp.Dummy("a", positive=True)
    lp_summand, lp_rest = sum_parts(log_p, k)
    per_component = sp.diff(sp.expand(lp_summand).xreplace({a_k: a}), a).xreplace({a: a_k})
    sums = sorted(lp_rest.atoms(sp.Sum), key=sp.default_sort_key)
    marks = {s_: sp.Dummy("S") for s_ in sums}
    outside = sum(sp.diff(lp_rest.xreplace(marks), m) * sp.diff(s_.function, a_k) for s_, m in marks.items())
    score = sp.expand(per_component + outside.xreplace({m: s_ for s_, m in marks.items()}))
    score_mark = score.xreplace({sp.log(y): mark})
    if sp.diff(score_mark, mark) != 1 or sp.diff(score_mark, mark, 2) != 0:
        raise NotSupportedError(f"KL({p.name} || {q.name}): the score is not log y_k plus a constant")
    mean_log = sp.simplify(-(score_mark - mark))  # E[log y_k]
    rule = Step(
        "The moment of log y_k, by differentiating under the integral",
        mean_log,
        reason(
            "Differentiate ", term("density_integrates_to_one"), " in ", a_k, " under the integral: ",
            sp.Eq(form("moment", form("partial", term("log_p"), a_k)), 0), ". Here ",
            sp.Eq(form("partial", term("log_p"), a_k), score), ", so ", form("moment", sp.log(y)), " is the rest, negated.",
        ),
        form("moment", sp.log(y)),
    )
    value = split_sum(sp.Sum(sp.expand(slope * mean_log + constant), (k, 1, K))) + rest
    shown = sp.Sum(sp.expand(summand), (k, 1, K)) + rest
    return KL(p, q, p_vals, q_vals, value, shown, {sp.log(y): mean_log}, y, k, rules=(rule,))


def _factorised(p, q, p_vals, q_vals) -> KL:
    """A density that is a product over components: the KL is a sum of one-dimensional KLs."""
    k, K = p.index, p.K
    y = p.y
    dens = p.density(y, **p_vals)
    if not isinstance(dens, sp.Product) or dens.limits[0][0] != k:
        raise NotSupportedError(f"KL({p.name} || {q.name}): the density of p is not a product over components")
    ratio = split_sum(sp.expand(split_sum(_log_density(p, y, p_vals) - _log_density(q, y, q_vals))))
    summand, rest = sum_parts(ratio, k)
    if rest.has(y.base):
        raise NotSupportedError(f"KL({p.name} || {q.name}): the log-ratio does not split over components")
    scalar = sp.Symbol("y", real=True)
    component = dens.function.xreplace({y: scalar})
    moments: dict = {}
    domain = E.Domain("continuous", -sp.oo, sp.oo)
    value = E.expectation(sp.expand(summand.xreplace({y: scalar})), scalar, component, domain, cache=moments)
    if value is None:
        raise NotSupportedError(f"SymPy cannot take the expectation for KL({p.name} || {q.name})")
    total = split_sum(sp.Sum(_tidy(value), (k, 1, K))) + rest
    shown = sp.Sum(sp.expand(summand), (k, 1, K)) + rest  # one sum over k, for display
    return KL(p, q, p_vals, q_vals, _tidy_event(total, k, K), shown, moments, y, k)


def _tidy(expr):
    """The textbook layout: logs sharing a coefficient merged into the log of a ratio.

    p log p - p log q + (1 - p) log(1 - p) - (1 - p) log(1 - q) becomes
    p log(p/q) + (1 - p) log((1 - p)/(1 - q)). Exact: log a - log b = log(a/b)
    for the positive quantities a density's logs are taken of.
    """
    expanded = sp.expand(sp.expand_log(sp.simplify(expr), force=True))
    logs = sorted(expanded.atoms(sp.log), key=sp.default_sort_key)
    if not logs:
        return sp.simplify(expanded)
    parts = sp.collect(expanded, logs, evaluate=False)
    groups: list[list] = []  # [coefficient, numerator args, denominator args]
    for log in logs:
        c = tidy(parts.get(log, 0))
        if c == 0:
            continue
        for group in groups:
            if sp.simplify(c - group[0]) == 0:
                group[1].append(log.args[0])
                break
            if sp.simplify(c + group[0]) == 0:
                group[2].append(log.args[0])
                break
        else:
            if _nicer_negated(c) if isinstance(c, sp.Add) else c.could_extract_minus_sign():
                groups.append([-c, [], [log.args[0]]])
            else:
                groups.append([c, [log.args[0]], []])
    terms = [c * sp.log(sp.Mul(*num) / sp.Mul(*den)) if num else -c * sp.log(sp.Mul(*den)) for c, num, den in groups]
    rest = sp.factor(sp.simplify(parts.get(sp.S.One, 0)))
    return sp.Add(*terms, rest)


def _tidy_event(expr, k, K):
    """Gather everything into one sum over k (K * c -> sum_k c), for the textbook layout."""
    summand, rest = sum_parts(expr, k)
    moved = [t for t in sp.Add.make_args(rest) if t.has(K) and not (t / K).has(K)]
    summand = summand + sp.Add(*(t / K for t in moved))
    rest = sp.Add(*(t for t in sp.Add.make_args(rest) if t not in moved))
    return sp.Sum(_tidy(summand), (k, 1, K)) + rest


# ---------------------------------------------------------------------------
# The rendered derivation.
# ---------------------------------------------------------------------------

# The names the reasons use: p and q for the two distributions (p a term: a symbol named p is a
# probability parameter, written theta), y the observation, k its component.
Q, Y, K = sp.symbols("q y k")
P = term("density")


def kl_document(result: KL, slug: str | None = None):
    p, q, y = result.p, result.q, result.y
    lhs = term("kl_p_q")
    p_args = list(result.p_params.values())
    q_args = list(result.q_params.values())
    yy = y.base if result.index is not None else y
    steps = [
        Step(
            "The definition",
            Expectation(sp.Add(sp.log(DensityOf(yy, *p_args)), -sp.log(DensityOfQ(yy, *q_args)), evaluate=False)),
            reason(
                "The Kullback-Leibler divergence of ", Q, " from ", P, " is the expected log-ratio under ", P, ": ",
                P, f" is {p.title_in_sentence} and ", Q, f" is {q.title_in_sentence}.",
            ),
            lhs,
        ),
        Step(
            "Substitute the densities and expand the logarithms",
            Expectation(result.log_ratio),
            reason("Write out ", term("log_ratio"), "; the terms that appear in both cancel."),
            lhs,
        ),
    ]
    if result.p.support.kind == "onehot":
        how = reason(
            Y, " is one-hot, so the log-ratio is linear in ", Y, " and ", term("mean_of_one_hot"), " is the probability of "
            "the ", K, "-th class, read off the density at the ", K, "-th unit vector",
        )
    elif result.p.support.kind == "reals_vector":
        how = "the density is a product over components, so the expectation is taken per component by integration"
    elif result.p.support.discrete:
        how = "the expectation is a sum over the support, taken term by term"
    else:
        how = "the expectation is an integral over the support, taken term by term"
    if result.outside:
        steps = steps[:1] + [
            Step(
                "p puts mass where q has none",
                sp.oo,
                reason(
                    P, f" lives on {p.support.describe()} and ", Q, f" on {q.support.describe()}: on a set of positive "
                    "probability under ", P, " the density of ", Q, " is ", sp.S.Zero, ", so the log-ratio is infinite there "
                    "and so is its expectation.",
                ),
                lhs,
            )
        ]
    steps += list(result.rules)
    used = [sp.Eq(form("moment", g), v, evaluate=False) for g, v in result.moments.items() if g != 1]
    if not result.outside:
        steps.append(
            Step(
                "Take the expectation",
                result.expr,
                reason("Here ", how, *(("; the moments used: ", *_listed(used), ".") if used else (".",))),
                lhs,
            )
        )
    summary = (
        ("p", f"{p.label}({', '.join(sp.sstr(v) for v in p_args)})"),
        ("q", f"{q.label}({', '.join(sp.sstr(v) for v in q_args)})"),
        ("KL", sp.sstr(result.expr)),
    )
    return Document(
        slug=slug or result.slug,
        title=f"KL divergence: {p.title_in_sentence} from {q.title_in_sentence}",
        intro=(
            f"KL(p || q) for p = {p.label}({', '.join(sp.sstr(v) for v in p_args)}) and "
            f"q = {q.label}({', '.join(sp.sstr(v) for v in q_args)}), derived by symlik.kl."
        ),
        steps=tuple(steps),
        summary=summary,
        result=result.expr,
    )


def catalog_pairs():
    """The KL derivations for derivations/: each listed pair whose distributions are in the catalog."""
    available = set(names())
    for p_name, p_opts, q_name, q_opts, q_params, slug in PAIRS:
        if p_name in available and q_name in available:
            yield kl(p_name, q_name, p_options=p_opts or None, q_options=q_opts or None, q_params=q_params).document(slug)
