"""The gradient pass: d (mean loss) / d (each predicted input), per observation."""

from __future__ import annotations

import sympy as sp

from symlik.core.notation import OBS, OperatorName, form
from symlik.core.step import Step, reason
from symlik.derivation.gradient import FACTOR_MAX_SYMBOLS, Components
from symlik.derivation.gradient import gradient as gradient_of
from symlik.derivation.gradient import tidy
from symlik.derivation.passes.context import Context


class _Inputs:
    """The two attributes ``derivation.gradient.gradient`` reads from a Derivation, while one is being built."""

    def __init__(self, spec, symbols):
        self.spec = spec
        self.symbols = symbols


def positive_first(e):
    """For display: in each sum, the terms without a leading minus first."""
    if isinstance(e, sp.Add):
        terms = sorted(e.args, key=lambda t: t.could_extract_minus_sign())
        return sp.Add(*(positive_first(t) for t in terms), evaluate=False)
    if isinstance(e, sp.Mul) and any(isinstance(a, sp.Add) for a in e.args):
        coeff, rest = e.as_coeff_Mul()
        inner = [positive_first(a) for a in sp.Mul.make_args(rest)]
        return sp.Mul(*([coeff] if coeff != 1 else []), *inner, evaluate=False)
    if isinstance(e, sp.Function) and any(isinstance(a, sp.Add) for a in e.args):
        return e.func(*(positive_first(a) for a in e.args), evaluate=False)
    return e


def _is_target(atom) -> bool:
    """The observed value y (y_i, y_ik): the observed value is always called y."""
    if isinstance(atom, sp.Indexed):
        return atom.base.label.name == "y"
    return isinstance(atom, sp.Symbol) and atom.name == "y"


def _oriented(factor, numerator: bool) -> tuple[sp.Expr, int]:
    """(factor or -factor, the sign taken out) as a textbook writes a difference: in a numerator,
    the prediction minus the target (p - y, mu - y); in a denominator, a positive quantity with
    its constant first (1 - p, not p - 1)."""
    if not isinstance(factor, sp.Add):
        return factor, 1
    for t in factor.args:
        c, rest = t.as_coeff_Mul()
        if numerator and _is_target(rest):
            return (-factor, -1) if c > 0 else (factor, 1)
        if not numerator and t.is_Number:
            return (-factor, -1) if t < 0 else (factor, 1)
    return factor, 1


def _smaller_factored(expr) -> sp.Expr:
    """``expr`` or its factorisation, whichever is shorter (expr on a tie: sigma^2 - y^2 stays).
    Not tried above FACTOR_MAX_SYMBOLS symbols, where multivariate factorisation can take minutes."""
    if len(expr.free_symbols) > FACTOR_MAX_SYMBOLS:
        return expr
    try:
        factored = sp.factor(expr)
    except (sp.PolynomialError, NotImplementedError):  # pragma: no cover - SymPy gave up
        return expr
    return factored if sp.count_ops(factored) < sp.count_ops(expr) else expr


def _factors(expr, numerator: bool) -> tuple[int, sp.Expr, list]:
    """(sign, positive numeric coefficient, the other factors oriented) of a product; the
    numeric content is taken out of a sum too (2 mu - 2 y -> 2, mu - y)."""
    coeff, rest = expr.as_content_primitive()
    if rest.could_extract_minus_sign() and not isinstance(rest, sp.Add):
        coeff, rest = -coeff, -rest
    c, rest = rest.as_coeff_Mul()
    coeff *= c
    sign, out = (-1 if coeff < 0 else 1), []
    for f in sp.Mul.make_args(rest):
        base, exp = f.as_base_exp() if f.is_Pow and f.exp.is_Integer else (f, sp.S.One)
        base, s = _oriented(base, numerator)
        sign *= s ** int(exp)
        out.append(base if exp == 1 else sp.Pow(base, exp, evaluate=False))
    return sign, abs(coeff), out


def textbook_fraction(g, n_obs):
    """g / n as one fraction in textbook form, or None where g is not a ratio of products:
    over a common denominator, factored, each difference oriented (see _oriented), n first in
    the denominator. BCE's (1/(p - 1)) (1/p) (y - p) / n becomes (p - y) / (n p (1 - p)).
    The special functions (sigmoid, exp, digamma) are held as symbols, so that nothing inside
    them is expanded. Exactly equal to g / n; only how it is written changes."""
    if g.has(sp.Piecewise, sp.Sum):
        return None
    # in a fixed order: the dummies' order is the polynomial's variable order, which decides factor()'s
    # form and time (a set's order follows Python's string hashing: derivations/ and the book's time varied)
    held = {f: sp.Dummy("f") for f in sorted(g.atoms(sp.Function), key=sp.default_sort_key)}
    back = {d: f for f, d in held.items()}
    num, den = (_smaller_factored(part) for part in sp.fraction(sp.together(g.xreplace(held))))
    if den == 1:
        return None
    sign_n, c_n, top = _factors(num, numerator=True)
    sign_d, c_d, bottom = _factors(den, numerator=False)
    sign = sign_n * sign_d
    if sign < 0:  # take the minus into a numerator difference with no target term of its own: (p y - 1)
        for j, f in enumerate(top):
            if isinstance(f, sp.Add):
                top[j], sign = -f, 1
                break
    coeff = c_n / c_d
    # single quantities before the differences: n theta (1 - theta), not n (1 - theta) theta
    top = sorted((f.xreplace(back) for f in top), key=lambda f: f.has(sp.Add))
    bottom = sorted((f.xreplace(back) for f in bottom), key=lambda f: f.has(sp.Add))
    numerator = sp.Mul(*([coeff.p] if coeff.p != 1 or not top else []), *top, evaluate=False)
    denominator = sp.Mul(*([coeff.q] if coeff.q != 1 else []), n_obs, *bottom, evaluate=False)
    fraction = sp.Mul(numerator, sp.Pow(denominator, -1, evaluate=False), evaluate=False)
    return fraction if sign > 0 else sp.Mul(sp.S.NegativeOne, fraction, evaluate=False)


def over_n(g, n_obs):
    """For display: one fraction in textbook form where it is no longer than the sum it replaces
    (see textbook_fraction), else factored, positive terms first, over n (exactly g / n). A
    gradient of three or more terms is shown term by term over n, so that a long one can be
    broken across lines at its + and - signs (a single fraction over n cannot)."""
    g = tidy(g)
    fraction = textbook_fraction(g, n_obs)
    if fraction is not None and sp.count_ops(fraction, visual=False) <= sp.count_ops(g / n_obs, visual=False):
        return fraction
    if not g.has(sp.Add):
        return g / n_obs
    terms = sp.Add.make_args(sp.expand_mul(g, deep=False))
    if len(terms) >= 3:
        return positive_first(sp.Add(*(t / n_obs for t in terms), evaluate=False))
    return sp.Mul(positive_first(g), sp.Pow(n_obs, -1, evaluate=False), evaluate=False)


def gradient(c: Context) -> tuple[Step, ...]:
    """One step per predicted input. Only observation i's term depends on its own prediction,
    so the gradient of (1/n) sum_i loss_i is that term's derivative over n (what ``Kernel.grad``
    returns for reduction="mean", from the stable form of the same expression). As in the other
    passes, a parameter that bounds the support (binomial's n trials) is indexed by observation,
    and the observations are counted by N where the distribution has its own n."""
    loss = c.loss
    numerator = OperatorName(loss.template.latex_name) if loss.name else form("mean_loss", c.n_obs)
    inputs = _Inputs(c.spec, c.symbols)
    steps = []
    for name in c.input_names:
        g = gradient_of(c.loss_expr, inputs, name)
        if isinstance(g, Components):  # an event written out by position: one step per component
            steps += [_gradient_step(c, name, numerator, gi, (OBS, i)) for i, gi in enumerate(g.args, 1)]
            continue
        indices = (OBS, c.spec.index) if isinstance(c.symbols[name], sp.Indexed) else (OBS,)
        steps.append(_gradient_step(c, name, numerator, g, indices, f"The gradient with respect to {name}"))
    return tuple(steps)


def _gradient_step(c: Context, name: str, numerator, g, indices, title: str | None = None) -> Step:
    """The step of one input's gradient; by default titled as one component of an event input's
    (the multivariate normal's mu_1)."""
    return Step(
        title or f"The gradient with respect to {name}_{indices[-1]}",
        over_n(c.obs(g), c.n_obs),
        reason(
            "Only observation ", OBS, "'s term depends on its own prediction, so the gradient of the mean "
            "is that term's derivative over ", c.n_obs, "; the kernel's grad() computes it from the stable "
            "form of the loss.",
        ),
        lhs=form("partial", numerator, form("sub", sp.Symbol(name), *indices)),
    )
