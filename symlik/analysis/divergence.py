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

from symlik.analysis.information import _nicer_negated, tidy
from symlik.analysis.moments import expectation_by_moments, log_density
from symlik.core import expectation as E
from symlik.core.algebra import split_sum, sum_parts
from symlik.core.document import Document
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.core.functions import DensityOf
from symlik.core.notation import form, term
from symlik.core.presentation import ShownAsDocument
from symlik.core.step import Step, listed, reason
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


def _scalar(p, q, p_vals, q_vals) -> KL:
    y = p.y
    ratio = sp.expand(log_density(p, y, p_vals) - log_density(q, y, q_vals))
    density = p.density(y, **p_vals)
    moments: dict = {}
    domain = E.domain_of(_bound(p, p_vals))
    value = E.expectation(ratio, y, density, domain, cache=moments)
    rules: list = []
    if value is None:  # moment by moment, with the score identity where integration fails
        moments = {}
        value = expectation_by_moments(p, p_vals, ratio, y, density, domain, moments, rules)
    if value is None:
        raise NotSupportedError(f"SymPy cannot take the expectation for KL({p.name} || {q.name})")
    return KL(p, q, p_vals, q_vals, _tidy(value), ratio, moments, y, rules=tuple(rules))


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
    ratio = split_sum(sp.expand(split_sum(log_density(p, y, p_vals) - log_density(q, y, q_vals))))
    summand, rest = sum_parts(ratio, k)
    summand = sp.expand(summand)
    if sp.diff(summand, y, 2) != 0 or rest.has(y.base):
        raise NotSupportedError(f"KL({p.name} || {q.name}): the log-ratio is not linear in the one-hot target")
    slope = sp.simplify(sp.diff(summand, y))
    constant = sp.simplify(summand - slope * y)
    # E[y_k] = p(e_k): the log-density at the k-th unit vector, from its own linear form.
    log_p = split_sum(sp.expand(split_sum(log_density(p, y, p_vals))))
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
    log_p = split_sum(sp.expand(split_sum(log_density(p, y, p_vals))))
    ratio = split_sum(sp.expand(split_sum(log_p - log_density(q, y, q_vals))))
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
    ratio = split_sum(sp.expand(split_sum(log_density(p, y, p_vals) - log_density(q, y, q_vals))))
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
                reason("Here ", how, *(("; the moments used: ", *listed(used), ".") if used else (".",))),
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
