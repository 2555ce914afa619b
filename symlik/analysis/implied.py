"""The loss-to-likelihood direction: ``symlik.implied_density(loss)``.

A loss l(y, theta) is the negative log-likelihood of some density only if
exp(-l) can be normalised without theta: p(y | theta) = exp(-l) / Z(theta)
with Z(theta) = integral (or sum) of exp(-l) over the support of y. Then
-log p = l + log Z(theta), so

- if Z is free of theta, l is an NLL up to the constant log Z, and the
  density is named when a catalog distribution's NLL is *proven* equal to
  l + log Z (the matcher proves the catalog NLL is the same template, the
  catalog's other parameters are solved from its scale and inner values,
  and the two log-densities are checked to be identical);
- otherwise l = -log p(y | theta) - log Z(theta): the missing -log Z(theta)
  moves with the prediction, and minimising l is not maximum likelihood.
  Focal loss and poly-1 are of this kind.

The normaliser is derived, never looked up: over the real line a loss of
the residual r = y - theta alone is shifted to r (so Z is free of theta by
the substitution) and the integral split at r = 0; over {0, 1} it is the
two-term sum; over one-hot vectors it is the sum over classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symlik.core import expectation as E
from symlik.core.algebra import (
    canonical_conditions,
    cases,
    expand_logs,
    free_of,
    has_switch,
    is_zero,
    split_sum,
)
from symlik.core.document import Document
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.core.functions import DensityOf
from symlik.core.notation import form, term
from symlik.core.presentation import ShownAsDocument
from symlik.core.step import Step, reason
from symlik.losses import templates as T
from symlik.losses.matcher import identify_scalar
from symlik.model import constraints as C
from symlik.model.custom import custom
from symlik.model.distributions import get, names
from symlik.model.parse import parse_expression

# What a template's predicted slot is called, and the assumptions of its symbol.
_SLOT_SYMBOLS = {"prob": ("p", {"positive": True}), "rate": ("lam", {"positive": True})}
# A template's inner parameter: its symbol's assumptions (the rule a value must obey is in the text).
_INNER_ASSUMPTIONS = {"epsilon": {"real": True}}  # the others are > 0 (a zero is given as a number)
_INNER_RULES = {"tau": "lie in (0, 1)", "alpha": "lie in (0, 1)", "epsilon": "be real"}

# Where the target of a loss lives, by name (as symlik.custom names supports).
SUPPORTS = {
    "real": C.reals,
    "positive": C.positive_reals,
    "binary": C.Support("discrete", 0, 1),
    "nonnegative_integer": C.Support("discrete", 0, None),
    "onehot": C.Support("onehot"),
}


@dataclass(frozen=True)
class ImpliedDensity(ShownAsDocument):
    """p(y | theta) = exp(-loss) / Z(theta) for a loss, with its normaliser and what follows.

    ``is_nll`` says whether Z is free of the predictions; then ``distribution`` names a
    catalog distribution proven equal (with ``distribution_params``), when one is; otherwise
    ``missing`` is the term -log Z(theta) that separates the loss from an NLL.
    """

    name: str  # the template's name, or "custom"
    loss: sp.Expr
    y: sp.Expr
    predicted: tuple
    inner: dict
    support: C.Support
    unnormalised: sp.Expr  # exp(-loss), per target value (per class for one-hot targets)
    normaliser: sp.Expr  # Z(theta)
    is_nll: bool
    missing: sp.Expr  # -log Z(theta) (zero when is_nll)
    steps: tuple
    template: str | None = None  # the loss the matcher proved (for a formula), or the template used
    distribution: str | None = None
    distribution_params: dict = field(default_factory=dict)

    @property
    def density(self) -> sp.Expr:
        """p(y | theta) for one target value (scalar supports)."""
        return self.unnormalised / self.normaliser

    @property
    def slug(self) -> str:
        return f"implied-{self.name}".replace("_", "-")

    def document(self, slug: str | None = None) -> Document:
        verdict = "an NLL up to a constant" if self.is_nll else "not a likelihood: -log Z(theta) is missing"
        summary = [("loss", sp.sstr(self.loss)), ("Z", sp.sstr(self.normaliser)), ("verdict", verdict)]
        if self.distribution:
            values = ", ".join(f"{k}={sp.sstr(v)}" for k, v in self.distribution_params.items())
            summary.append(("distribution", f"{self.distribution}({values})"))
        return Document(
            slug=slug or self.slug,
            title=f"The density implied by the {self.name.replace('_', ' ')} loss",
            intro=(
                "Read a loss as a negative log-density: p(y | theta) is proportional to exp(-loss), and the loss is a "
                "likelihood only when the normaliser Z(theta) does not depend on the prediction. Derived by "
                "symlik.implied_density."
            ),
            steps=self.steps,
            summary=tuple(summary),
            result=self.normaliser,
        )

    def __repr__(self) -> str:
        what = f"NLL of {self.distribution}" if self.distribution else ("NLL" if self.is_nll else "not an NLL")
        return f"<ImpliedDensity {self.name}: Z = {sp.sstr(self.normaliser)}, {what}>"


def template_names() -> tuple[str, ...]:
    """The loss templates ``implied_density`` accepts by name."""
    return tuple(dict.fromkeys(t.name for t in (*T.SCALAR_TEMPLATES, *T.EVENT_TEMPLATES)))


def _template(name: str):
    """The plain template called ``name`` (a refinement with a rescaled target is not a loss one types)."""
    found = [t for t in (*T.SCALAR_TEMPLATES, *T.EVENT_TEMPLATES) if t.name == name and "target" not in t.extra]
    if not found:
        raise UnknownNameError("loss template", name, template_names())
    return found[0]


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, sp.Expr)):
        raise SymlikError(f"{what} must be a number or a SymPy expression; got {value!r}")
    if isinstance(value, float):
        return sp.nsimplify(value)
    return sp.Integer(value) if isinstance(value, int) else value


def implied_density(loss, *, params: dict | None = None, observed="y", predict=None, support=None,
                    inner: dict | None = None) -> ImpliedDensity:
    """The density p(y | theta) proportional to exp(-loss), its normaliser Z(theta), and whether
    the loss is a negative log-likelihood.

    Parameters
    ----------
    loss : str or sympy.Expr
        A loss template's name (``mse``, ``mae``, ``pinball``, ``huber_loss`` or ``huber``,
        ``log_cosh``, ``cauchy``, ``binary_cross_entropy``, ``focal``, ``alpha_focal``,
        ``cross_entropy``, ``poly1``, ...), or a formula l(y, theta): a SymPy expression, or
        text read by the whitelist parser (never evaluated); a formula needs ``params``.
    params : dict, optional
        For a formula: parameter -> constraint (``real``, ``positive``, ...), as in ``symlik.custom``.
    observed : str or sympy.Symbol
        For a formula: the target (default ``y``).
    predict : str or tuple of str, optional
        For a formula: the predicted parameters (default: the first one).
    support : str, optional
        Where y lives: ``real``, ``positive``, ``binary``, ``nonnegative_integer`` (``onehot``
        for class losses). Default: ``binary`` for a probability, ``onehot`` for a class
        loss, else ``real`` (``positive`` when the loss takes log y).
    inner : dict, optional
        Values for a template's inner parameters (``{"tau": 0.3}``); the others stay symbols.

    >>> import symlik
    >>> r = symlik.implied_density("mae")
    >>> r.normaliser, r.is_nll, r.distribution
    (2, True, 'laplace')
    >>> symlik.implied_density("focal", inner={"gamma": 2}).is_nll
    False
    """
    if isinstance(loss, str) and loss.isidentifier() and params is None:
        return _from_template(_template("huber_loss" if loss == "huber" else loss), support, inner or {})
    if inner:
        raise SymlikError("inner= goes with a template name; write the values into a formula")
    if params is None:
        raise SymlikError(f"a loss formula needs params= (parameter -> constraint); or give a template name: {', '.join(template_names())}")
    return _from_formula(loss, params, observed, predict, support)


# ---------------------------------------------------------------------------
# The two ways in: a template, or a formula.
# ---------------------------------------------------------------------------


def _support(name, default) -> C.Support:
    if name is None:
        return default
    if name not in SUPPORTS:
        raise UnknownNameError("support", name, SUPPORTS)
    return SUPPORTS[name]


def _from_template(template, support, given) -> ImpliedDensity:
    for key in given:
        if key not in template.inner:
            raise UnknownNameError(f"inner parameter of {template.name}", key, template.inner)
    inner = {}
    for key in template.inner:
        if key in given:
            inner[key] = _number(given[key], f"inner parameter {key}")
        else:
            inner[key] = sp.Symbol(key, **_INNER_ASSUMPTIONS.get(key, {"positive": True}))
    slot = template.slots[0]
    if len(template.slots) != 1:
        raise NotSupportedError(f"the loss {template.name} takes {len(template.slots)} predictions; implied_density reads one")
    theta_name, assumptions = _SLOT_SYMBOLS.get(slot, ("mu", {"real": True}))
    if template.event:
        k, K = sp.Symbol("k", integer=True, positive=True), sp.Symbol("K", integer=True, positive=True)
        y = sp.IndexedBase("y")[k]
        theta = sp.IndexedBase(theta_name, **assumptions)[k]
        summand = template.expr(y, theta, **inner)
        return _event(template.name, summand, y, theta, k, K, inner, _support(support, SUPPORTS["onehot"]), template.name)
    y = sp.Symbol("y", real=True)
    theta = sp.Symbol(theta_name, **assumptions)
    expr = template.expr(y, theta, **inner)
    default = SUPPORTS["binary"] if slot == "prob" else SUPPORTS["nonnegative_integer"] if slot == "rate" else _continuous(expr, y)
    return _scalar(template.name, expr, y, (theta,), inner, _support(support, default), template)


def _continuous(expr, y) -> C.Support:
    """The real line, or (0, inf) when the loss takes the log of a power of y or divides by y
    (then it is finite only for y > 0)."""
    powers = [a.args[0] for a in expr.atoms(sp.log)] + [p for p in expr.atoms(sp.Pow) if p.exp.is_negative]
    for arg in powers:
        _, dependent = arg.as_independent(y, as_Add=False)
        if dependent == y or (isinstance(dependent, sp.Pow) and dependent.base == y):
            return SUPPORTS["positive"]
    return SUPPORTS["real"]


def _powers(expr):
    """exp(c log b) written b^c, as a reader writes the terms of a normaliser."""
    def is_power(e):
        if not isinstance(e, sp.exp):
            return False
        logs = [f for f in sp.Mul.make_args(e.args[0]) if isinstance(f, sp.log)]
        return len(logs) == 1

    def as_power(e):
        (log,) = [f for f in sp.Mul.make_args(e.args[0]) if isinstance(f, sp.log)]
        return sp.Pow(log.args[0], e.args[0] / log)

    return expr.replace(is_power, as_power)


def _from_formula(loss, params, observed, predict, support) -> ImpliedDensity:
    if not isinstance(loss, (str, sp.Expr)):
        raise SymlikError(f"loss must be a template name, a formula string or a SymPy expression; got {type(loss).__name__}")
    if isinstance(loss, str):
        if not isinstance(observed, str) or not isinstance(params, dict):
            raise SymlikError("with a formula string, observed and the params keys must be names")
        known = {}
        for key, cname in params.items():
            if not isinstance(key, str) or cname not in C.CONSTRAINTS:
                raise SymlikError(f"params must map names to constraints ({', '.join(C.CONSTRAINTS)}); got {key!r}: {cname!r}")
            known[key] = sp.Symbol(key, **C.CONSTRAINTS[cname].assumptions)
        loss = parse_expression(loss, {observed: sp.Symbol(observed, real=True), **known}, what="loss")
    support_name = support or "real"
    if support_name not in SUPPORTS or support_name == "onehot":
        raise UnknownNameError("support of a loss formula", support_name, [s for s in SUPPORTS if s != "onehot"])
    # symlik.custom canonicalises the symbols (the target becomes y, parameters get their
    # constraints' assumptions) and checks that nothing undeclared is used; the density is
    # exp(-loss), unnormalised, so its check is off: the normaliser is what we derive here.
    spec = custom("custom_loss", log_density=-loss, observed=observed, params=params, predict=predict,
                  support=support_name, check=False)
    theta = {n: spec.symbol(n) for n in spec.param_names}
    expr = sp.expand(-spec.log_density(spec.y, **theta))
    predicted = tuple(spec.symbol(n) for n in spec.predict)
    return _scalar("custom", expr, spec.y, predicted, {}, SUPPORTS[support_name], None)


# ---------------------------------------------------------------------------
# The normaliser and the verdict.
# ---------------------------------------------------------------------------


def _residual_only(expr, y, theta):
    """l(theta + r) for a loss of r = y - theta alone (theta real), else None."""
    r = sp.Symbol("r", real=True)
    shifted = expr.xreplace({y: theta + r})
    if shifted.has(theta):
        shifted = sp.simplify(shifted)
    return None if shifted.has(theta) else (r, shifted)


def _integral_split_at_zero(f, r):
    """Integral of exp(-f(r)) over the real line, split at r = 0: on each side r = +-t with t > 0,
    where a Max, |r| or a case split of the loss is decided by the sign."""
    t = sp.Symbol("t", positive=True)
    total = sp.S.Zero
    for side in (t, -t):
        branch = sp.simplify(f.xreplace({r: side}).rewrite(sp.Piecewise))
        value = E.integrate(sp.exp(-branch), t, 0, sp.oo)
        if value is None:
            return None
        total += value
    return sp.simplify(total)


def _normaliser_scalar(expr, y, predicted, support):
    """(Z, the integral or sum as shown, the reason) for a scalar target."""
    if support.discrete:
        lo, hi = support.lower, support.upper
        if hi is None or hi - lo > E.EXPLICIT_SUM_LIMIT:
            value = E.summation(sp.exp(-expr), y, sp.Integer(lo), sp.oo if hi is None else sp.Integer(hi))
            how = reason("the sum over ", y, " = ", sp.Integer(lo), ", ", sp.Integer(lo) + 1, ", ...")
        else:
            value = sp.Add(*(sp.exp(-expr.xreplace({y: sp.Integer(v)})) for v in range(lo, hi + 1)))
            value = sp.powsimp(sp.expand_log(value, force=True))
            how = reason("the sum of ", sp.exp(-sp.Symbol("loss")), " over the target values ", sp.FiniteSet(*range(lo, hi + 1)))
        shown = sp.Sum(sp.exp(-expr), (y, lo, sp.oo if hi is None else hi))
        return value, shown, how
    lo = -sp.oo if support.lower is None else sp.Integer(support.lower)
    hi = sp.oo if support.upper is None else sp.Integer(support.upper)
    shown = sp.Integral(sp.exp(-expr), (y, lo, hi))
    located = _residual_only(expr, y, predicted[0]) if len(predicted) == 1 and predicted[0].is_real and lo == -sp.oo and hi == sp.oo else None
    if located is not None:
        r, f = located
        value = _integral_split_at_zero(f, r)
        if value is not None:
            how = reason(
                "the loss depends on ", y, " and ", predicted[0], " only through the residual ", sp.Eq(r, y - predicted[0]),
                ", so substituting ", sp.Eq(y, predicted[0] + r), " leaves the integral of ", sp.exp(-f),
                " over the real line, free of ", predicted[0], "; it is split at ", sp.Eq(r, 0),
            )
            return value, shown, how
    value = E.integrate(sp.exp(-expr), y, lo, hi)
    return value, shown, reason("the integral over the support, by SymPy")


def _scalar(name, expr, y, predicted, inner, support, template) -> ImpliedDensity:
    Z, shown, how = _normaliser_scalar(expr, y, predicted, support)
    if Z is None:
        raise NotSupportedError(f"SymPy cannot find the normaliser of exp(-{name}) over {support.describe()}")
    Z = _powers(sp.simplify(Z))
    return _verdict(name, expr, y, predicted, inner, support, sp.exp(-expr), Z, shown, how, template)


def _event(name, summand, y, theta, k, K, inner, support, template_name) -> ImpliedDensity:
    """One-hot targets: l(e_j) = s(1, theta_j) + sum_{k != j} s(0, theta_k); with s(0, .) = 0
    the normaliser is sum_j exp(-s(1, theta_j)), and a simplex parameter sums to 1."""
    if support.kind != "onehot":
        raise NotSupportedError(f"the class loss {name} is read over one-hot targets; got support {support.describe()}")
    at_zero = sp.simplify(summand.xreplace({y: 0}))
    if at_zero != 0:
        raise NotSupportedError(f"{name}: the loss of a class that is not the target is {at_zero}, not 0; its normaliser is not derived")
    per_class = _powers(sp.powsimp(sp.expand_log(sp.exp(-summand.xreplace({y: 1})), force=True)))
    Z = sp.Sum(per_class, (k, 1, K))
    # theta is a probability vector: sum_k theta_k = 1 (its simplex constraint).
    Z_value = split_sum(sp.Sum(sp.expand(per_class), (k, 1, K))).xreplace({sp.Sum(theta, (k, 1, K)): sp.S.One})
    how = reason(
        "the sum over the ", K, " one-hot targets ", sp.Symbol("e_j"), "; the loss of a class that is not the target is ",
        sp.S.Zero, ", so each term is ", sp.exp(-summand.xreplace({y: 1})), ", and the probabilities sum to ",
        sp.Eq(sp.Sum(theta, (k, 1, K)), 1),
    )
    loss = sp.Sum(summand, (k, 1, K))
    return _verdict(name, loss, y, (theta,), inner, support, per_class, Z_value, Z, how, _template(template_name), index=k)


def _verdict(name, loss, y, predicted, inner, support, unnormalised, Z, shown, how, template, index=None) -> ImpliedDensity:
    bases = [getattr(p, "base", p) for p in predicted]
    is_nll = free_of(Z, [*predicted, *bases])
    theta_args = tuple(predicted)
    Zf = form("normaliser_of", *theta_args)
    ell = form("implied_loss", y, *theta_args)
    steps = [
        Step(
            "The loss",
            loss,
            reason(
                "The loss of one observation with target ", y, " and prediction ", *_joined(theta_args),
                *((f" ({template.title})",) if template is not None else ()), *_inner_reason(inner), ".",
            ),
            ell,
        ),
        Step(
            "Read the loss as a negative log-density",
            sp.exp(-sp.Function("ell")(y, *theta_args)) / sp.Function("Z")(*theta_args),
            reason(
                "If the loss were ", term("neg_log_p"), " for a density ", term("density"), ", then ", term("density"),
                " would be ", sp.exp(-ell), " divided by its normaliser ", Zf, ", the ",
                "sum" if support.discrete or support.kind == "onehot" else "integral", " of ", sp.exp(-ell),
                f" over the support of the target, {support.describe()}.",
            ),
            DensityOf(y, *theta_args),
        ),
        Step(
            "The normaliser",
            sp.Eq(shown, Z, evaluate=False),
            reason("Here ", *how, "."),
            Zf,
        ),
    ]
    missing = sp.S.Zero
    found = None
    if is_nll:
        steps.append(
            Step(
                "The loss is a negative log-likelihood",
                sp.Function("ell")(y, *theta_args) + sp.log(Z),
                reason(
                    "The normaliser does not depend on ", *_joined(theta_args), ", so ", term("neg_log_p"), " is the loss plus the "
                    "constant ", sp.log(Z), ": minimising the loss is maximum likelihood under this density.",
                ),
                -sp.log(DensityOf(y, *theta_args)),
            )
        )
        if len(predicted) == 1:
            if index is None:
                found = _name_distribution(loss, y, predicted[0], Z, support, template)
            else:
                found = _name_event_distribution(loss, y, predicted[0], Z, support)
            if found is not None:
                steps.append(found[2])
    else:
        missing = -sp.log(Z)
        steps.append(
            Step(
                "The missing term",
                -sp.log(DensityOf(y, *theta_args)) - sp.log(sp.Function("Z")(*theta_args)),
                reason(
                    "The normaliser ", sp.Eq(Zf, Z), " depends on the prediction, so the loss is ", term("neg_log_p"),
                    " less ", sp.log(Zf), ": the term ", -sp.log(Z), " moves with ", *_joined(theta_args),
                    ". Minimising the loss is not maximum likelihood under any density ", sp.exp(-ell), " normalised "
                    "for each prediction; the loss is not a likelihood.",
                ),
                ell,
            )
        )
    return ImpliedDensity(
        name=name, loss=loss, y=y, predicted=tuple(predicted), inner=dict(inner), support=support,
        unnormalised=unnormalised, normaliser=Z, is_nll=is_nll, missing=missing, steps=tuple(steps),
        template=template.name if template is not None else None,
        distribution=found[0] if found else None, distribution_params=found[1] if found else {},
    )


def _joined(items):
    out = []
    for i, item in enumerate(items):
        out += [", "] * (i > 0) + [item]
    return out


def _inner_reason(inner):
    if not inner:
        return ()
    out = ["; its inner parameter"]
    for i, (key, value) in enumerate(inner.items()):
        out += [", " if i else " ", sp.Symbol(key) if isinstance(value, sp.Symbol) else sp.Eq(sp.Symbol(key), value)]
        if isinstance(value, sp.Symbol) and key in _INNER_RULES:
            out.append(f" (must {_INNER_RULES[key]})")
    return tuple(out)


# ---------------------------------------------------------------------------
# Naming the density: a catalog distribution whose NLL is proven equal to loss + log Z.
# ---------------------------------------------------------------------------


def _identical(a, b, y, theta) -> bool:
    """a == b identically: the logs expanded, and a piecewise difference checked case by case."""
    difference = sp.expand(expand_logs(canonical_conditions(a) - canonical_conditions(b)))
    if is_zero(difference):
        return True
    branches = cases([canonical_conditions(a), canonical_conditions(b)]) if has_switch(difference) else None
    return bool(branches) and all(is_zero(sp.expand(expand_logs(x - z))) for x, z in branches)


def _candidates(support):
    for n in names():
        spec = get(n)
        if spec.is_event or len(spec.predict) != 1:
            continue
        if (spec.support.kind, spec.support.lower, spec.support.upper) != (support.kind, support.lower, support.upper):
            continue
        yield spec


def _name_event_distribution(loss, y, theta, Z, support):
    """(name, {}, Step) for the first catalog event distribution with one parameter, the
    predicted vector, whose NLL is identically loss + log Z (cross-entropy: the categorical),
    or None. Its target, parameter, event index and size are renamed to the loss's first."""
    implied_nll = loss + sp.log(Z)
    sums = [s for s in sp.preorder_traversal(implied_nll) if isinstance(s, sp.Sum)]
    if not sums or not isinstance(theta, sp.Indexed) or not isinstance(y, sp.Indexed):
        return None
    k, _, size = sums[0].limits[0]
    for n in names():
        spec = get(n)
        if not spec.is_event or spec.support.kind != support.kind or len(spec.effective_params()) != 1:
            continue
        own = spec.symbol(spec.predict[0])
        if not isinstance(own, sp.Indexed):
            continue
        values = {p.name: spec.symbol(p.name) for p in spec.effective_params()}
        log_p = spec.log_density(spec.y, **values)
        nll = expand_logs(-(log_p if log_p is not None else sp.log(spec.density(spec.y, **values))))
        renamed = {spec.y.base: y.base, own.base: theta.base, spec.index: k, spec.K: size}
        if _identical(nll.xreplace(renamed), implied_nll, y, theta):
            density = spec.density(spec.y, **values).xreplace(renamed)
            step = Step(
                "Name the distribution",
                density,
                reason(
                    f"The NLL of {spec.title_in_sentence}, ", nll.xreplace(renamed), ", is identically the loss plus ",
                    sp.log(Z), ", so the density is ", f"{spec.title_in_sentence}.",
                ),
                DensityOf(y, theta),
            )
            return spec.name, {}, step
    return None


def _name_distribution(loss, y, theta, Z, support, template):
    """(name, parameter values, Step) for the first catalog distribution proven to have the
    NLL loss + log Z, or None. The matcher identifies both the implied NLL and the catalog's
    with one template; the catalog's other parameters are solved from the two scales and
    inner values; then the identity of the two NLLs is checked."""
    implied_nll = loss + sp.log(Z)
    own = identify_scalar(implied_nll, y, [theta], templates=(template,) if template is not None else T.SCALAR_TEMPLATES)
    if own is None:
        return None
    tmpl = own.loss.template
    for spec in _candidates(support):
        predicted = spec.symbol(spec.predict[0])
        values = {p.name: spec.symbol(p.name) for p in spec.effective_params()}
        log_p = spec.log_density(spec.y, **values)
        nll = -(log_p if log_p is not None else sp.log(spec.density(spec.y, **values)))
        nll = expand_logs(nll.xreplace({spec.y: y, predicted: theta}))
        match = identify_scalar(nll, y, [theta], templates=(tmpl,))
        if match is None:
            continue
        unknowns = [spec.symbol(n) for n in spec.param_names if n != spec.predict[0]]
        equations = [sp.Eq(match.scale, own.scale)]
        equations += [sp.Eq(match.loss.inner[k], own.loss.inner[k]) for k in own.loss.inner if k in match.loss.inner]
        equations = [e for e in equations if e is not sp.true]
        if any(e is sp.false for e in equations):
            continue
        solutions = sp.solve(equations, unknowns, dict=True) if equations and unknowns else [{}]
        for solution in solutions:
            if any(v.is_positive is False and s.is_positive for s, v in solution.items()):
                continue
            candidate = nll.xreplace(solution)
            if free_of(candidate, set(unknowns) - implied_nll.free_symbols) and _identical(candidate, implied_nll, y, theta):
                params = {n: solution.get(spec.symbol(n), spec.symbol(n)) for n in spec.param_names if n != spec.predict[0]}
                fixed = [sp.Eq(spec.symbol(n), v) for n, v in params.items() if v != spec.symbol(n)]
                density = spec.density(y, **{**values, spec.predict[0]: theta, **{n: v for n, v in params.items()}})
                step = Step(
                    "Name the distribution",
                    density.xreplace({spec.y: y}),
                    reason(
                        f"The matcher proves that the NLL of {spec.title_in_sentence} is the {tmpl.title} with scale ",
                        match.scale, *(("; with ", *_joined(fixed)) if fixed else ()),
                        " it is identically the loss plus ", sp.log(Z), ", so the density is ",
                        f"{spec.title_in_sentence}.",
                    ),
                    DensityOf(y, theta),
                )
                return spec.name, params, step
    return None
