"""The gradient pass: d (mean loss) / d (each predicted input), per observation."""

from __future__ import annotations

import sympy as sp

from symlik.core.notation import OBS, OperatorName, form
from symlik.core.step import Step, reason
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


def over_n(g, n_obs):
    """For display: factored, positive terms first, over n (exactly g / n). A gradient of
    three or more terms is shown term by term over n, so that a long one can be broken
    across lines at its + and - signs (a single fraction over n cannot)."""
    g = tidy(g)
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
        indices = (OBS, c.spec.index) if isinstance(c.symbols[name], sp.Indexed) else (OBS,)
        steps.append(
            Step(
                f"The gradient with respect to {name}",
                over_n(c.obs(g), c.n_obs),
                reason(
                    "Only observation ", OBS, "'s term depends on its own prediction, so the gradient of the mean "
                    "is that term's derivative over ", c.n_obs, "; the kernel's grad() computes it from the stable "
                    "form of the loss.",
                ),
                lhs=form("partial", numerator, form("sub", sp.Symbol(name), *indices)),
            )
        )
    return tuple(steps)
