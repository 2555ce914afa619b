"""The best constant prediction and the chance-level loss of a derivation.

A model that ignores its input predicts one constant c for every
observation; the best such c minimises sum_i NLL(y_i, c). Where the NLL is
smooth, the score equation sum_i d NLL(y_i, c)/dc = 0 is written through the
data's sums (sum_i y_i, sum_i y_i^2, ..., one per distinct g(y) in the score)
and solved by SymPy: the mean for normal, the proportion of ones for
bernoulli, class frequencies for categorical (with a Lagrange multiplier
keeping the probabilities on the simplex). Where the NLL has a kink, the
score is a step function of c: a score that is A for observations above c
and B for those below vanishes when a fraction A/(A - B) of the data lies
below c, which is a sample quantile (the median when B = -A, as for
laplace). Where neither works the answer says so plainly.

The chance-level loss is the canonical loss of an uninformed constant
prediction, averaged over the data: log C for a uniform categorical over C
classes, log 2 for a coin-flip bernoulli, the sample variance for MSE at
the best constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from symlik.core.algebra import clearly_varies, split_sum, sum_parts
from symlik.core.notation import N_OBS, OBS, form, term
from symlik.core.presentation import reason_text
from symlik.core.step import Step, reason
from symlik.core.errors import NotSupportedError, SymlikError
from symlik.core.expectation import moments

# The index of the outer average in the chance-level loss (i is taken by the best constant).
AVERAGE = sp.Symbol("j", integer=True, positive=True)

class SampleQuantile(sp.Function):
    """The q-quantile of the observations y_1..y_n, for display (q = 1/2: the median)."""

    nargs = 2

    @property
    def sample(self):
        """The data as plain text shows them: y (all of y_1..y_n), not y[i], whose index would
        clash with the index of a sum around it (median(y[i]) - y[j])."""
        data = self.args[0]
        return data.base.label if isinstance(data, sp.Indexed) else data

    def _sympystr(self, printer):
        q = self.args[1]
        if q == sp.Rational(1, 2):
            return f"median({printer._print(self.sample)})"
        return f"quantile({printer._print(self.sample)}, {printer._print(q)})"

    def _pretty(self, printer):
        data, q = self.sample, self.args[1]
        if q == sp.Rational(1, 2):
            return printer._print(sp.Function("median")(data))
        return printer._print(sp.Function("quantile")(data, q))


@dataclass(frozen=True)
class OptimalConstant:
    """The argmin over constant predictions of sum_i NLL(y_i, c).

    ``values`` maps each predicted parameter to its best constant, written
    through the data y_i (i = 1..n); ``inputs`` does the same for the
    network's outputs when there is a link. Both are None when SymPy cannot
    solve the score equation; ``statement`` then says so. ``reason`` is the
    statement as data (prose and ``Math``, see symlik.core.step), for the
    derivation step; ``statement`` is its plain text, typeset by symlik.render
    with the names of ``derivation``'s steps.
    """

    values: dict | None
    inputs: dict | None
    equations: tuple  # the score equations, each "expr = 0"
    reason: tuple  # prose and Math fragments
    kind: str = "solved"  # "solved", "quantile" or "unsolved"
    extra: dict = field(default_factory=dict)
    derivation: Any = field(default=None, repr=False, compare=False)  # whose symbol names the statement uses

    @property
    def solved(self) -> bool:
        return self.values is not None

    @property
    def statement(self) -> str:
        """The reason in plain text, its math written out."""
        return reason_text(self.reason, self.derivation)

    def __str__(self) -> str:
        return self.statement


def _over_data(g, y, spec):
    """sum_i g(y_i) as a SymPy Sum (n when g = 1)."""
    if g == 1:
        return N_OBS
    data = sp.IndexedBase("y", **spec._y_base().assumptions0)
    if spec.is_event:
        k = spec.index
        return sp.Sum(g.xreplace({y: data[OBS, k]}), (OBS, 1, N_OBS))
    return sp.Sum(g.xreplace({y: data[OBS]}), (OBS, 1, N_OBS))


def _predicted(d):
    spec = d.spec
    return [spec.symbol(p) for p in d.predict]


def _valid(value, name, spec) -> bool:
    if spec.param(name).constraint.excludes(value):
        return False
    return value.is_real is not False


# Function heads sp.solve can invert or clear when a score equation applies them to a prediction.
_INVERTIBLE = (sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.atan)


def _invertible(eqs, thetas) -> bool:
    """True unless a score equation applies to a prediction a function outside _INVERTIBLE or
    SymPy's Sigmoid-like compositions of them (symlik's stable functions rewrite to those)."""
    for eq in eqs:
        for f in eq.atoms(sp.Function, sp.Piecewise):
            if not any(f.has(t) for t in thetas):
                continue
            if isinstance(f, sp.Piecewise):
                return False
            if isinstance(f, _INVERTIBLE):
                continue
            plain = f.rewrite(sp.exp)
            plain = f.rewrite(sp.log) if plain == f else plain
            inner = [g for g in plain.atoms(sp.Function) if any(g.has(t) for t in thetas)]
            if plain == f or not all(isinstance(g, _INVERTIBLE) for g in inner):
                return False
    return True


def _switches_at(grad, y, theta) -> bool:
    """Does the score switch between forms where y crosses theta? Only then can it be a step: a
    sign, Heaviside or Abs of something with both, or a branch condition with both. (A truncated
    normal's branches switch on its bounds, an AFT's on the censoring: simplifying those scores
    to find no step took 100 s.)"""
    switches = list(grad.atoms(sp.sign, sp.Heaviside, sp.Abs))
    switches += [c for p in grad.atoms(sp.Piecewise) for _, c in p.args]
    return any(s.has(y) and s.has(theta) for s in switches)


def _step_score(grad, y, theta):
    """For a kinked NLL: (A, B), the score for y above and below theta, if both are constants."""
    if not _switches_at(grad, y, theta):
        return None
    t = sp.Dummy("t", positive=True)
    above, below = grad.xreplace({y: theta + t}), grad.xreplace({y: theta - t})
    # a step is constant on each side: random points that show otherwise settle it before simplify,
    # which took minutes on an interval-censored log-normal's branches (they switch at y = theta too)
    if clearly_varies(above, [t]) or clearly_varies(below, [t]):
        return None
    above, below = sp.simplify(above), sp.simplify(below)
    if above.has(t, y, theta) or below.has(t, y, theta) or sp.simplify(above - below) == 0:
        return None
    return above, below


def optimal_constant(d) -> OptimalConstant:
    """The best constant prediction for ``d`` (see the module docstring)."""
    if d.spec.is_event:
        return _optimal_event(d)
    spec, y = d.spec, d.spec.y
    thetas = _predicted(d)
    grads = [sp.diff(d.nll_theta, t) for t in thetas]
    shown = tuple(sp.Sum(_indexed(g, y, spec), (OBS, 1, N_OBS)) for g in grads)

    if len(thetas) == 1:
        steps = _step_score(grads[0], y, thetas[0])
        if steps is not None:
            above, below = steps
            q = sp.simplify(above / (above - below))
            # q must lie in (0, 1); a parameter such as pinball's tau is only known to be positive
            if q.is_positive is not False and (1 - q).is_positive is not False and not q.has(*thetas):
                value = SampleQuantile(sp.IndexedBase("y")[OBS], q)
                name = ("median",) if q == sp.Rational(1, 2) else (q, "-quantile")
                theta = thetas[0]
                why = reason(
                    "The NLL has a kink, so its derivative in ", theta, " is a step: ", above, " for each "
                    "observation above ", theta, " and ", below, " for each one below. The sum changes sign "
                    "where a fraction ", q, " of the observations lies below ", theta, ": the best constant "
                    "is the sample ", *name, ".",
                )
                values = {d.predict[0]: value}
                return OptimalConstant(values, _inputs(d, values), shown, why, "quantile", {"q": q}, d)

    if len(thetas) == 1:
        circular = _circular_mean(d, grads[0], y, thetas[0], shown)
        if circular is not None:
            return circular

    sums, eqs = {}, []
    for grad in grads:
        eq = sp.S.Zero
        for g, coeff in moments(grad, y).items():
            if any(g.has(t) for t in thetas):
                return _unsolved(d, shown, reason("the score mixes the data and ", form("listed", *thetas), " inseparably"))
            if g not in sums:
                sums[g] = N_OBS if g == 1 else sp.Dummy(f"S{len(sums)}", real=True)
            eq += coeff * sums[g]
        eqs.append(eq)
    try:
        # sp.solve on a score with a function it cannot invert (log Phi of a truncated normal's mass,
        # a GEV's branches) searches for many minutes and finds nothing: it is not started then
        solutions = sp.solve(eqs, thetas, dict=True) if _invertible(eqs, thetas) else []
    except (NotImplementedError, ValueError, TypeError):
        solutions = []
    back = {s: _over_data(g, y, spec) for g, s in sums.items() if g != 1}
    valid = []
    for sol in solutions:
        if len(sol) != len(thetas):
            continue
        values = {name: sp.simplify(sol[t].xreplace(back)) for name, t in zip(d.predict, thetas)}
        if all(_valid(v, n, spec) for n, v in values.items()):
            valid.append(values)
    if len(valid) != 1:
        why = "it has no solution SymPy can find" if not valid else "it has several roots"
        return _unsolved(d, shown, why)
    values = valid[0]
    mean = _over_data(y, y, spec) / N_OBS
    note = ""
    if len(values) == 1 and sp.simplify(next(iter(values.values())) - mean) == 0:
        note = " This is the sample mean"
        if spec.support.kind == "discrete" and spec.support.lower == 0 and spec.support.upper == 1:
            note += ", which for 0/1 data is the proportion of ones"
        note += "."
    why = reason("Setting the summed score to zero and solving: ", *_described(spec, values), ".", note)
    return OptimalConstant(values, _inputs(d, values), shown, why, "solved", derivation=d)


def _circular_mean(d, grad, y, theta, shown):
    """The best constant when the score is a sin(theta) + b cos(theta), a and b sums over the data
    (a circular location: von Mises). The summed score a sin + b cos = R sin(theta - m) vanishes at
    m and at m + pi; its derivative a cos + b sin is R > 0 only at m = atan2(-b, a), the minimum."""
    if not grad.has(sp.sin, sp.cos):
        return None
    parts = moments(sp.expand(sp.expand_trig(grad)), theta)
    a, b = parts.pop(sp.sin(theta), None), parts.pop(sp.cos(theta), None)
    if a is None or b is None or parts or a.has(theta) or b.has(theta):
        return None
    # a positive factor common to a and b (kappa) does not move the angle
    factor = sp.Mul(*(f for f in sp.Mul.make_args(sp.factor_terms(a)) if not f.has(y) and f.is_positive))
    sine, cosine = (_over_data(sp.simplify(v / factor), y, d.spec) for v in (-b, a))
    value = sp.atan2(sine, cosine)
    values = {d.predict[0]: value}
    why = reason(
        "The summed score is ", sp.Eq(sp.Symbol("a") * sp.sin(theta) + sp.Symbol("b") * sp.cos(theta), 0),
        " with a and b sums over the data; it vanishes at two angles a half-turn apart, and the NLL is least at ",
        sp.Eq(theta, value), ": the circular mean, the direction of the mean resultant vector.",
    )
    return OptimalConstant(values, _inputs(d, values), shown, why, "solved", {"circular": True}, d)


def _described(spec, values) -> list:
    """theta = value for each best constant, as reason fragments separated by semicolons."""
    out: list = []
    for name, value in values.items():
        out += ["; "] if out else []
        out.append(sp.Eq(spec.symbol(name), value))
    return out


def _indexed(expr, y, spec):
    data = sp.IndexedBase("y", **spec._y_base().assumptions0)
    return expr.xreplace({y: data[OBS]})


def _unsolved(d, shown, why) -> OptimalConstant:
    """``why``: why SymPy found no closed form (prose, or a reason with math)."""
    statement = reason(
        "SymPy cannot solve the score equation for a constant ", form("listed", *_predicted(d)), " in closed form (", why,
        "); the best constant is its root, which depends on the data and can be found numerically.",
    )
    return OptimalConstant(None, None, shown, statement, "unsolved", derivation=d)


def _inputs(d, values):
    if not d.link:
        return dict(values)
    name = d.spec.link_param(d.link)
    link = d.spec.link(d.link, name)
    out = {}
    for p, v in values.items():
        if p == name and not isinstance(v, SampleQuantile):
            out[link.input_name(p)] = sp.simplify(link.forward(v))
        else:
            out[p] = v
    return out


def _optimal_event(d) -> OptimalConstant:
    """Event distributions: one constant per component; a simplex parameter gets a Lagrange multiplier."""
    spec = d.spec
    k, K = spec.index, spec.K
    yk = spec.y
    summand, rest = sum_parts(d.nll_theta, k)
    thetas = _predicted(d)
    if any(rest.has(t.base if isinstance(t, sp.Indexed) else t) for t in thetas):
        return _unsolved(d, (), "the components are coupled")
    data = sp.IndexedBase("y", **spec._y_base().assumptions0)
    shown = tuple(sp.Sum(sp.diff(summand, t).xreplace({yk: data[OBS, k]}), (OBS, 1, N_OBS)) for t in thetas)
    values = {}
    lam = sp.Symbol("lambda", positive=True)
    for name, theta in zip(d.predict, thetas):
        if not isinstance(theta, sp.Indexed):
            return _unsolved(d, shown, reason(form("listed", theta), " is shared by all components"))
        grad = sp.diff(summand, theta)
        simplex = spec.param(name).constraint.event
        eq, sums = (lam if simplex else sp.S.Zero), {}
        for g, coeff in moments(grad, yk).items():
            if g.has(theta):
                return _unsolved(d, shown, "the score mixes the data and the prediction inseparably")
            if g not in sums:
                sums[g] = N_OBS if g == 1 else sp.IndexedBase(f"S{len(sums)}", real=True)[k]
            eq += coeff * sums[g]
        sol = sp.solve(eq, theta)
        if len(sol) != 1:
            return _unsolved(d, shown, "it has no unique solution SymPy can find")
        value = sol[0]
        if simplex:
            # sum_k theta_k = 1 fixes the multiplier; a one-hot (or probability) target
            # sums to 1 over k, so sum_k sum_i y_ik = n.
            total = split_sum(sp.Sum(value, (k, 1, K)))
            if spec.support.kind in ("onehot", "simplex") and yk in sums:
                total = total.xreplace({sp.Sum(sums[yk], (k, 1, K)): N_OBS})
            lam_sol = sp.solve(sp.Eq(total, 1), lam)
            if len(lam_sol) != 1:
                return _unsolved(d, shown, "the simplex constraint could not be imposed")
            value = value.subs(lam, lam_sol[0])
        back = {s: sp.Sum(g.xreplace({yk: data[OBS, k]}), (OBS, 1, N_OBS)) for g, s in sums.items() if g != 1}
        value = sp.simplify(value.xreplace(back))
        values[name] = value
    why = reason("Setting the summed score to zero for each component ", k, " and solving: ", *_described(spec, values), ".")
    if any(spec.param(n).constraint.event for n in values):
        why = reason(why, " A Lagrange multiplier keeps the probabilities summing to ", sp.S.One,
                     ": the best constant is the class frequencies.")
    return OptimalConstant(values, _inputs(d, values), shown, why, "solved", derivation=d)


# ---------------------------------------------------------------------------
# The chance-level loss.
# ---------------------------------------------------------------------------


def _uninformed(d, name):
    c = d.spec.param(name).constraint
    if c.uninformed(d.spec.K) is not None:
        return c.uninformed(d.spec.K)
    best = optimal_constant(d)
    if not best.solved:
        raise NotSupportedError(
            f"no uninformed value for {name} ({c}) and no closed-form best constant; pass chance_loss({name}=...)"
        )
    return best.values[name]


def _given(name: str, value) -> sp.Expr:
    """A value the caller gave for ``name``: a number or a SymPy expression. Text is refused,
    never parsed (non-strict sympify would evaluate it as Python)."""
    if isinstance(value, (str, bytes)):
        raise SymlikError(f"chance_loss value for {name} must be a number or a SymPy expression, not text: {value!r}")
    try:
        return sp.sympify(value, strict=True)
    except sp.SympifyError:
        raise SymlikError(f"chance_loss value for {name} must be a number or a SymPy expression; got {type(value).__name__}") from None


def chance_loss(d, **prediction) -> sp.Expr:
    """The canonical loss of a constant prediction, averaged over the observations.

    Each predicted parameter not given takes its uninformed value: 1/C per
    class on the simplex, 1/2 on the unit interval, and otherwise the best
    constant (so for mse this is the sample variance). Values are in the
    parameters (p, mu, ...), not in the link's pre-activation.
    """
    spec = d.spec
    for name in prediction:
        if name not in d.predict:
            raise SymlikError(f"chance_loss takes values for the predicted parameters {', '.join(d.predict)}; got {name!r}")
    values = {name: _given(name, prediction[name]) if name in prediction else _uninformed(d, name) for name in d.predict}
    if d.link is None:
        loss_theta = d.loss.expr
    else:  # the canonical loss in the parameters: undo the link by going back to the NLL
        loss_theta = (d.nll_theta - d.offset) / d.scale
    if spec.is_event:
        k = spec.index
        subs = {spec.symbol(name): v for name, v in values.items()}
        loss = loss_theta.xreplace(subs)
        if spec.support.kind in ("onehot", "simplex"):  # each target sums to 1 over k
            loss = split_sum(sp.expand(split_sum(loss)))
            loss = loss.replace(lambda e: isinstance(e, sp.Sum) and e.function == spec.y and e.limits[0][0] == k, lambda e: sp.S.One)
            loss = sp.simplify(loss)
    else:
        loss = loss_theta.xreplace({spec.symbol(n): v for n, v in values.items()})
        loss = loss if loss.has(sp.Sum) else sp.simplify(loss)
    y = spec.y
    if not loss.has(y.base if spec.is_event else y):
        return loss
    # The average over observations j; the best constant inside already sums over i.
    data = sp.IndexedBase("y", **spec._y_base().assumptions0)
    y_j = data[AVERAGE, spec.index] if spec.is_event else data[AVERAGE]
    # Only the free target becomes y_j: the data inside the best constant stay y_i.
    inner = {e: sp.Dummy() for e in loss.atoms(sp.Indexed) if OBS in e.indices}
    loss = loss.xreplace(inner).xreplace({y: y_j}).xreplace({v: e for e, v in inner.items()})
    return sp.Sum(loss, (AVERAGE, 1, N_OBS)) / N_OBS


# ---------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------


def baseline_steps(d) -> list:
    best = optimal_constant(d)
    names = ", ".join(d.predict)
    steps = []
    if best.solved:
        (name, value), = best.values.items() if len(best.values) == 1 else ((names, sp.Matrix(list(best.values.values()))),)
        if name in d.predict:  # one parameter: its best constant, per class for an event parameter
            shape = "best_constant_per_class" if d.spec.param(name).event else "best_constant"
            lhs = form(shape, sp.Symbol(name))
        else:
            lhs = form("best_constant", form("sized_group", *(sp.Symbol(n) for n in d.predict)))
        link_note = ()
        if best.inputs and d.link:
            z = next(iter(best.inputs.values()))
            link_note = reason(" For the network's output: ", sp.Eq(sp.Symbol("z"), z), ".")
        steps.append(
            Step(
                "The best constant prediction",
                value,
                reason(best.reason, link_note),
                lhs,
            )
        )
    else:
        steps.append(
            Step(
                "The best constant prediction",
                sp.Eq(sp.Add(*best.equations) if best.equations else sp.S.Zero, 0),
                best.reason,
            )
        )
    try:
        chance = chance_loss(d)
    except NotSupportedError:
        return steps
    uninformed = []
    for n in d.predict:
        c = d.spec.param(n).constraint
        theta = d.spec.symbol(n)
        value = c.uninformed(d.spec.K)
        uninformed += [", "] if uninformed else []
        uninformed += (
            [theta, " at its best constant"] if value is None
            else [sp.Eq(theta, value), " for every class"] if c.event
            else [sp.Eq(theta, value)]
        )
    loss_name = d.loss.name or "the NLL without its constant terms"
    steps.append(
        Step(
            "The chance-level loss",
            chance,
            reason(
                "An uninformed model (", *uninformed, f") scores this {loss_name} per observation; "
                "a model is learning only when it does better.",
            ),
            term("chance_loss"),
        )
    )
    return steps
