"""Loss options with torch.nn.functional's semantics, applied to a derivation.

torch's losses carry options that change the math: label smoothing, class and
positive-class weights, a variance clamp, Stirling's term. Each one here is a
transformation of the derived per-observation loss, done in SymPy and shown as
derivation steps, so that the kernel compiled from the result computes what
torch computes and the reader sees why:

=================  =====================  ===========================================
option             loss                   torch.nn.functional
=================  =====================  ===========================================
label_smoothing    cross_entropy          cross_entropy(label_smoothing=)
class_weight       cross_entropy          cross_entropy(weight=)  (per class)
ignore_index       cross_entropy          cross_entropy(ignore_index=)
pos_weight         binary_cross_entropy   binary_cross_entropy_with_logits(pos_weight=)
soft_targets       binary_cross_entropy   targets in [0, 1] (torch never checks)
eps                gaussian_nll           gaussian_nll_loss(eps=)  (clamps the variance)
eps                poisson_nll            poisson_nll_loss(eps=)  (log(rate + eps))
full               gaussian_nll           gaussian_nll_loss(full=)
full               poisson_nll            poisson_nll_loss(full=)  (Stirling where y > 1)
log_input          poisson_nll            poisson_nll_loss(log_input=)  (the log link)
exact              poisson_nll            (symlik) the exact log y!, not Stirling's
=================  =====================  ===========================================

Per-sample weights (torch's ``weight`` of binary_cross_entropy) work on every
kernel and are given at call time, ``kernel(..., weight=w)``; ``reduction``
is compile()'s. Both are shown in the last step, where the mean's denominator
is written out (torch's weighted cross-entropy divides by the total weight of
the target classes, not by n).

The transformed derivation keeps the contract ``nll == scale * loss + offset``:
an option defines the new loss, and the new ``nll`` is ``scale * loss + offset``
with the offset adjusted where an option moves a constant into the loss
(``full``, ``exact``).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import sympy as sp

from symlik.core.algebra import is_zero, split_sum, tidy_logs
from symlik.losses import templates as T
from symlik.model import constraints as C
from symlik.model.distributions.base import Param
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.core.functions import LogSumExp, Softplus, accepts_latex_power, exact
from symlik.core.step import Step, reason
from symlik.core.notation import N_OBS, OBS, form, term
from symlik.derivation.substitution import apply_link, observation

if TYPE_CHECKING:  # the Derivation class imports this module for its with_options method
    from symlik.derivation.derivation import Derivation

from symlik.core.reductions import REDUCTIONS  # noqa: E402 - the one definition (core)

# Modules this one needs only when called, each by name (importlib): log_input=True re-derives
# with the log link, and the pipeline imports this module (through Derivation.with_options), so
# importing it here at module level would be a cycle.
_LAZY = {"derive": "symlik.derivation.pipeline"}

# Names the reasons mention: the target y and the smoothed target q, a probability p, the weight
# alpha_k of class k, the per-sample weight w_i, and (softmax) the weights c and their mean logit x.
_Y, _Q, _P, _X, _C = sp.symbols("y q p x c")
_ALPHA_K, _W_I = sp.symbols("alpha_k w_i")

# A nonnegative, finite number (weights); checked by Constraint.violations.
nonnegative = C.nonnegative.with_rule("be >= 0 and finite")


# ---------------------------------------------------------------------------
# Option values: each check normalises a value or raises naming the option.
# ---------------------------------------------------------------------------


def _bool(name):
    def check(value):
        if not isinstance(value, (bool, np.bool_)):
            raise SymlikError(f"{name} must be True or False; got {value!r}")
        return bool(value)

    return check


def _number(name, lower, *, closed=True, upper=None):
    def check(value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise SymlikError(f"{name} must be a finite real number; got {value!r}")
        low_bad = value < lower if closed else value <= lower
        if low_bad or (upper is not None and value > upper):
            span = f"in [{lower}, {upper}]" if upper is not None else f"{'>=' if closed else '>'} {lower}"
            raise SymlikError(f"{name} must be {span}; got {value!r}")
        return float(value)

    return check


def _integer(name):
    def check(value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise SymlikError(f"{name} must be an integer (a class index to ignore); got {value!r}")
        return int(value)

    return check


def _weights(name, ndim=None):
    def check(value):
        try:
            a = np.asarray(value)
        except Exception:  # noqa: BLE001 - anything NumPy cannot read is bad input
            raise SymlikError(f"{name} must be an array of numbers; got {type(value).__name__}") from None
        if a.dtype.kind not in "biuf":
            raise SymlikError(f"{name} must be a real numeric array; got dtype {a.dtype}")
        if ndim is not None and a.ndim != ndim:
            raise SymlikError(f"{name} must be a 1-D array with one entry per class; got shape {a.shape}")
        if np.any(nonnegative.violations(a)):
            raise SymlikError(f"{name} must {nonnegative.rule}; got {value!r}")
        return a.astype(np.result_type(a.dtype, np.float32)) if a.dtype.kind != "f" else a

    return check


@dataclass(frozen=True)
class Option:
    """One loss option: how its value is checked. The losses it applies to declare it
    themselves (``Template.torch_form``, beside each template)."""

    name: str
    torch: str
    check: Callable[[Any], Any]
    doc: str = ""

    @property
    def losses(self) -> tuple[str, ...]:
        return T.torch_losses(self.name)


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("label_smoothing", "cross_entropy(label_smoothing=)",
               _number("label_smoothing", 0.0, upper=1.0), "mix the target with the uniform distribution"),
        Option("class_weight", "cross_entropy(weight=)", _weights("class_weight", ndim=1),
               "a weight per class; the mean divides by the total weight of the target classes"),
        Option("ignore_index", "cross_entropy(ignore_index=)", _integer("ignore_index"),
               "targets equal to it add nothing, to the sum or to the mean's denominator"),
        Option("pos_weight", "binary_cross_entropy_with_logits(pos_weight=)",
               _weights("pos_weight"), "a weight on the positive term"),
        Option("soft_targets", "binary_cross_entropy(target in [0, 1])",
               _bool("soft_targets"), "targets are probabilities in [0, 1]"),
        Option("eps", "gaussian_nll_loss(eps=) / poisson_nll_loss(eps=)",
               _number("eps", 0.0), "variance clamp (gaussian_nll) or log(rate + eps) (poisson_nll)"),
        Option("full", "gaussian_nll_loss(full=) / poisson_nll_loss(full=)",
               _bool("full"), "keep the constant (gaussian_nll) or add Stirling's term where y > 1 (poisson_nll)"),
        Option("log_input", "poisson_nll_loss(log_input=)", _bool("log_input"),
               "the input is the log-rate (the log link)"),
        Option("exact", "(symlik only)", _bool("exact"), "add the exact log y! (gammaln)"),
    )
}

CALL_TIME = {"weight": "per-sample weights are given at call time: kernel(..., weight=w)"}


# ---------------------------------------------------------------------------
# Which loss a derivation is, in the sense the options need.
# ---------------------------------------------------------------------------


def option_kind(d: Derivation) -> str | None:
    """The torch loss the options of ``d`` follow, or None when none applies.

    Options are torch's, so they apply where the derived loss *is* that torch
    loss with nothing folded in: cross_entropy and binary_cross_entropy with
    scale 1 and no offset (a binomial's BCE on y/n, scale n, is not torch's
    BCE), gaussian_nll predicting both mean and spread, poisson_nll.
    """
    template = d.loss.template
    return d.loss.name if template is not None and template.follows_torch(d) else None


def supported(d: Derivation) -> tuple[str, ...]:
    kind = option_kind(d)
    return tuple(n for n, o in OPTIONS.items() if kind in o.losses)


def check_options(d: Derivation, options: dict) -> dict:
    """Validate option names (for this loss) and values; returns normalised values."""
    kind = option_kind(d)
    out = {}
    for name, value in options.items():
        if name in CALL_TIME:
            raise SymlikError(f"{name} is not a compile option; {CALL_TIME[name]}")
        if name not in OPTIONS:
            raise UnknownNameError("loss option", name, [*OPTIONS, *CALL_TIME])
        option = OPTIONS[name]
        if kind not in option.losses and d.loss.name in option.losses:
            raise NotSupportedError(
                f"option {name} follows torch's {d.loss.name}, a plain loss of one prediction with scale 1; "
                f"{d.spec.label}'s is {d.loss.name} with scale {sp.sstr(d.scale)} and offset {sp.sstr(d.offset)}"
            )
        if kind not in option.losses:
            here = ", ".join(supported(d)) or "none besides reduction and call-time weight"
            link = f", link {d.link}" if d.link else ", no link"
            what = f"{d.loss.name or 'its own NLL'} ({d.spec.label}, predict {', '.join(d.predict)}{link})"
            raise NotSupportedError(
                f"option {name} applies to {' and '.join(option.losses)}, not to {what}; its options: {here}"
            )
        out[name] = option.check(value)
    if out.get("full") and out.get("exact"):
        raise SymlikError("full and exact are exclusive: exact=True already adds the exact log y!")
    if "eps" in out and kind == "gaussian_nll" and out["eps"] <= 0:
        raise SymlikError(f"eps must be > 0 (it clamps the variance from below); got {out['eps']!r}")
    if "log_input" in out:
        if out["log_input"] and d.link not in (None, "log"):
            raise SymlikError(f"log_input=True needs the log link; got link={d.link!r}")
        if not out["log_input"] and d.link == "log":
            raise SymlikError("log_input=False contradicts link='log' (log_input=True is the log link)")
    if "eps" in out and kind == "poisson_nll" and (d.link == "log" or out.get("log_input")):
        raise SymlikError("eps applies to poisson_nll with log_input=False (the rate itself is the input), as in torch")
    return out


# ---------------------------------------------------------------------------
# Display-only functions for the steps.
# ---------------------------------------------------------------------------


class Indicator(sp.Function):
    """1[condition], for display: 1 when it holds, 0 otherwise."""

    def _sympystr(self, printer):
        return "1[%s]" % printer._print(self.args[0])

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm

        inner = printer._print(self.args[0])
        return prettyForm(*prettyForm(*inner.parens("[", "]")).left("1"))


class Quotient(sp.Function):
    """num / den for display, always as a fraction (the renderers print products in order)."""

    nargs = 2

    def _pretty(self, printer):
        return printer._print(sp.Mul(self.args[0], sp.Pow(self.args[1], -1)))

    def _sympystr(self, printer):
        return "(%s)/(%s)" % (printer._print(self.args[0]), printer._print(self.args[1]))


@accepts_latex_power
class SafeRatio(sp.Function):
    """num / den, and 0 where den == 0 (a class weighted 0 then costs 0, not 0 * nan).

    Evaluates to the plain quotient when it cancels (alpha_y z_y / alpha_y = z_y),
    so class-index kernels never divide at all.
    """

    nargs = 2

    @classmethod
    def eval(cls, num, den):
        q = sp.cancel(num / den)
        if sp.fraction(q)[1] == 1:
            return q
        return None

    def fdiff(self, argindex=1):
        # Still 0 where den == 0: a class weighted 0 has no gradient either.
        num, den = self.args
        return SafeRatio(1, den) if argindex == 1 else -SafeRatio(num, den**2)

    def _eval_rewrite_as_log(self, num, den, **kwargs):  # exact(): back to a plain quotient
        return num / den

    _eval_rewrite_as_exp = _eval_rewrite_as_log

    def _numpycode(self, printer):
        return "_safe_ratio(%s, %s)" % (printer._print(self.args[0]), printer._print(self.args[1]))

    def _latex(self, printer):
        return printer._print(self.args[0] / self.args[1])


# ---------------------------------------------------------------------------
# The transformation.
# ---------------------------------------------------------------------------


@dataclass
class _Work:
    """What the option steps build up: the loss in the parameters and in the inputs."""

    d: Derivation
    loss: sp.Expr  # per observation, in the kernel's inputs
    offset: sp.Expr
    steps: list
    params: list
    symbols: dict


def _slots(d: Derivation) -> dict:
    """Template slot -> the predicted symbol filling it (found by rebuilding the loss)."""
    t = d.loss.template
    predicted = [d.spec.symbol(p) for p in d.predict]
    theta_loss = _theta_loss(d)
    for perm in itertools.permutations(predicted):
        if is_zero(t.build(d.spec.y, *perm, **d.loss.inner) - theta_loss):
            return dict(zip(t.slots, perm))
    raise NotSupportedError(f"cannot place the predictions of {d.spec.label} in {t.name}'s slots")  # pragma: no cover


def _theta_loss(d: Derivation) -> sp.Expr:
    """The canonical loss in the distribution's parameters (before the link)."""
    return sp.expand(d.nll_theta - d.offset) / d.scale


def _obs(d, expr):
    names = {"y", *d.predict, *d.predicted_inputs}
    return observation(expr, names)


def _display_loss_i(d):
    """loss_i(mu, sigma): the loss of observation i in the predicted parameters."""
    return form("loss_i", *(sp.Symbol(p) for p in d.predict))


def _cross_entropy(w: _Work, opts: dict) -> None:
    d, spec = w.d, w.d.spec
    if "label_smoothing" not in opts and "class_weight" not in opts:
        return  # ignore_index only changes the reduction
    k, K, y = spec.index, spec.K, spec.y
    p = spec.symbol(d.predict[0])
    q = y
    lhs = _display_loss_i(d)
    if "label_smoothing" in opts:
        eps = sp.Symbol("label_smoothing", nonnegative=True)
        w.params.append(Param("label_smoothing", C.unit_interval, doc="label smoothing"))
        w.symbols["label_smoothing"] = eps
        q = (1 - eps) * y + eps / K
        w.steps.append(Step(
            "Smooth the labels (label_smoothing = <label_smoothing>)",
            _obs(d, q),
            reason(
                "label_smoothing = <label_smoothing> (", eps, ") mixes each target with the uniform distribution "
                "over the ", K, " classes; the result is still a probability vector.",
            ),
            sp.IndexedBase("q")[OBS, k],
        ))
        smoothed = -sp.Sum(q * sp.log(p), (k, 1, K))
        w.steps.append(Step(
            "Cross-entropy against the smoothed target",
            _obs(d, smoothed),
            reason(
                "The loss is the negative log-likelihood of the model averaged over the smoothed target, ",
                term("smoothed_expectation"), ": the cross-entropy with ", _Y, " replaced by ", _Q, ".",
            ),
            lhs,
        ))
        # Split by linearity in the target: derived, not typed in.
        expanded = split_sum(sp.expand(smoothed))
        ce = sp.Sum(-y * sp.log(p), (k, 1, K))
        uniform = sp.Sum(-sp.log(p), (k, 1, K))
        split = sp.Add((1 - eps) * ce, (eps / K) * uniform, evaluate=False)
        if not is_zero(split_sum(sp.expand(split_sum(sp.expand(split)))) - expanded):  # pragma: no cover
            raise AssertionError("label smoothing split failed to verify")
        w.steps.append(Step(
            "Split the smoothed loss",
            _obs(d, split),
            reason(
                "The cross-entropy is linear in the target, so smoothing gives ", 1 - eps, " times the "
                "cross-entropy plus ", eps / K, " times the summed ", -sp.log(p), " over every class, which pulls "
                "all logits together (checked symbolically).",
            ),
            lhs,
        ))
    alpha = 1
    if "class_weight" in opts:
        base = sp.IndexedBase("class_weight", nonnegative=True)
        alpha = base[k]
        w.params.append(Param("class_weight", nonnegative, event=True, doc="weight per class"))
        w.symbols["class_weight"] = alpha
        w.steps.append(Step(
            "Weight the classes (class_weight)",
            _obs(d, -sp.Sum(alpha * q * sp.log(p), (k, 1, K))),
            reason(
                "class_weight (torch's cross_entropy weight, ", _ALPHA_K, ") multiplies the term of each class; "
                "with class-index targets the cross-entropy term becomes ", term("class_weighted_term"), ".",
            ),
            lhs,
        ))
    theta_loss = -sp.Sum(alpha * q * sp.log(p), (k, 1, K))
    if d.link is None:
        w.loss = split_sum(theta_loss)
        return
    # With the softmax link: -sum_k c_k (z_k - LSE(z)) = A (LSE(z) - x), with A = sum_k c_k and x the
    # c-weighted mean of the logits. Every c_k >= 0, so x <= max(z) and LSE(z) - x is a sum of two
    # nonnegative terms, computed as (max(z) - x) + log sum e^(z - max): no cancellation, no overflow.
    link = spec.link(d.link, d.predict[0])
    zname = d.predicted_inputs[0]
    zbase = sp.IndexedBase(zname, real=True)
    shown = apply_link(theta_loss, p, link, zbase, k, K)
    coeff = alpha * q
    A = sp.Sum(coeff, (k, 1, K))
    kernel_form = A * (LogSumExp(zbase, K) - SafeRatio(sp.Sum(coeff * zbase[k], (k, 1, K)), A))
    check = exact(kernel_form).replace(lambda e: isinstance(e, SafeRatio), lambda e: e.args[0] / e.args[1])
    if not is_zero(split_sum(sp.expand(split_sum(sp.expand(check)))) - exact(shown)):  # pragma: no cover
        raise AssertionError("the stable cross-entropy form failed to verify")
    w.steps.append(Step(
        "The option-adjusted loss in the logits",
        _obs(d, -sp.Sum(coeff * link.log_inverse(zbase, k, K), (k, 1, K))),
        reason(
            term("log_softmax"), ". The kernel computes it as ", term("stable_cross_entropy"), ", with ", term("class_mass"), " and ", _X,
            " the ", _C, "-weighted mean logit: two nonnegative terms, no cancellation.",
        ),
        form("loss_i", sp.Symbol("z")),
    ))
    w.loss = kernel_form


def _binary_cross_entropy(w: _Work, opts: dict) -> None:
    d, spec = w.d, w.d.spec
    y = spec.y
    p = spec.symbol(d.predict[0])
    lhs = _display_loss_i(d)
    if opts.get("soft_targets"):
        soft_y = sp.Symbol("y", nonnegative=True)
        bce = -(soft_y * sp.log(p) + (1 - soft_y) * sp.log(1 - p))
        best = sp.solve(sp.diff(bce, p), p)
        w.steps.append(Step(
            "Soft targets",
            _obs(d, bce.subs(soft_y, y)),
            reason(
                "With targets ", sp.Contains(_Y, sp.Interval(0, 1), evaluate=False), " (probabilities, not labels) "
                "the same expression is the cross-entropy ", term("soft_target_cross_entropy"), "; it is no longer a "
                "likelihood of ", _Y, ", but it is still minimised at ",
                sp.Eq(p, best[0] if len(best) == 1 else sp.FiniteSet(*best)), " (where its derivative in ", _P,
                " is ", sp.S.Zero, ").",
            ),
            form("cross_entropy_of", sp.Symbol("y_i"), sp.Symbol("p_i")),
        ))
    pw = 1
    if "pos_weight" in opts:
        pw = sp.Symbol("pos_weight", nonnegative=True)
        w.params.append(Param("pos_weight", nonnegative, doc="weight of the positive term"))
        w.symbols["pos_weight"] = pw
        w.steps.append(Step(
            "Weight the positive term (pos_weight)",
            _obs(d, -(pw * y * sp.log(p) + (1 - y) * sp.log(1 - p))),
            reason(
                "pos_weight (", pw, ") multiplies the log-likelihood of the positive label, as torch's "
                "binary_cross_entropy_with_logits does: ", pw > 1, " trades precision for recall.",
            ),
            lhs,
        ))
    theta_loss = -(pw * y * sp.log(p) + (1 - y) * sp.log(1 - p))
    if "pos_weight" not in opts:
        w.loss = d.loss.expr
        return
    if d.link is None:
        w.loss = theta_loss
        return
    # log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z). Both terms stay as
    # nonnegative softplus products: no softplus(z) - z rewrite, whose cancellation torch's own
    # form (1 - y) z - (1 + (w - 1) y) log sigmoid(z) suffers at y = 0, z << 0.
    link = spec.link(d.link, d.predict[0])
    z = sp.Symbol(d.predicted_inputs[0], real=True)
    w.loss = pw * y * Softplus(-z) + (1 - y) * Softplus(z)
    check = theta_loss.subs({sp.log(p): link.log_inverse(z), sp.log(1 - p): link.log1m_inverse(z)})
    if not is_zero(exact(w.loss) - exact(check)):  # pragma: no cover
        raise AssertionError("the pos_weight link form failed to verify")
    w.steps.append(Step(
        "The weighted loss in the logits",
        _obs(d, w.loss),
        reason(
            sp.Eq(term("log_sigmoid"), link.log_inverse(z), evaluate=False), " and ",
            sp.Eq(term("log_one_minus_sigmoid"), link.log1m_inverse(z), evaluate=False), ": two nonnegative terms.",
        ),
        form("loss_i", sp.Symbol("z")),
    ))


def _gaussian_nll(w: _Work, opts: dict) -> None:
    d = w.d
    slots = _slots(d)
    sigma, mu = slots["std"], slots["mean"]
    y = d.spec.y
    lhs = _display_loss_i(d)
    loss = d.loss.expr
    if "eps" in opts:
        eps = sp.Symbol("eps", positive=True)
        w.params.append(Param("eps", C.positive, doc="variance clamp"))
        w.symbols["eps"] = eps
        var = sp.Max(sigma**2, eps)
        v = sp.IndexedBase("v", positive=True)[OBS]
        var_i = _obs(d, sigma**2)
        w.steps.append(Step(
            "Clamp the variance (eps = <eps>)",
            _obs(d, var),
            reason(
                "torch's gaussian_nll_loss clamps the variance ", var_i, " from below at eps = <eps> (", eps,
                ") before the loss, so a variance of ", sp.S.Zero, " gives a finite loss. torch clamps without "
                "tracking the gradient, so its gradient is straight-through: where ", _obs(d, sigma**2 < eps),
                " it is the loss's derivative at ", sp.Eq(v, eps), ", passed on to ", var_i, "; symlik's kernel "
                "is the clamped function, flat in ", var_i, " there.",
            ),
            sp.Symbol("v_i"),
        ))
        loss = sp.Rational(1, 2) * (sp.log(var) + (y - mu) ** 2 / var)
        w.steps.append(Step(
            "The clamped loss",
            _obs(d, sp.Rational(1, 2) * (sp.log(sp.Symbol("v_i")) + (y - mu) ** 2 / sp.Symbol("v_i"))),
            reason("The Gaussian loss with ", var_i, " replaced by the clamped variance ", v, "."),
            lhs,
        ))
    offset = d.offset
    if opts.get("full"):
        loss, offset = _keep_constant(w, loss, offset, "full=True keeps the constant ", " that the default "
                                      "(full=False) drops: the loss is then the exact NLL.")
    w.loss = loss
    w.offset = offset


def _keep_constant(w, loss, offset, before, after):
    """Move the plain derivation's constant (log(2 pi)/2, log y!) into the loss; the reason is
    ``before``, the constant's formula, ``after``."""
    d = w.d
    lhs = _display_loss_i(d)
    constant = d.offset / d.scale
    why = reason(before, _obs(d, tidy_logs(constant)), after)
    new = sp.Add(loss, constant, evaluate=False)
    w.steps.append(Step("Keep the constant", _obs(d, new), why, lhs))
    return loss + constant, sp.expand(offset - d.offset)


def _poisson_nll(w: _Work, opts: dict) -> None:
    d = w.d
    y = d.spec.y
    rate = d.spec.symbol(d.predict[0])
    lhs = _display_loss_i(d)
    loss, offset = d.loss.expr, d.offset
    if "eps" in opts:
        eps = sp.Symbol("eps", nonnegative=True)
        w.params.append(Param("eps", C.nonnegative, doc="rate offset"))
        w.symbols["eps"] = eps
        log_terms = [t for t in loss.atoms(sp.log) if t.args[0] == rate]
        if len(log_terms) != 1:  # pragma: no cover - the template has one log(rate)
            raise NotSupportedError("eps needs a single log(rate) in the poisson_nll loss")
        loss = loss.xreplace({log_terms[0]: sp.log(rate + eps)})
        w.steps.append(Step(
            "Keep the log away from 0 (eps = <eps>)",
            _obs(d, loss),
            reason(
                "With log_input=False torch evaluates ", _obs(d, sp.log(rate + eps)), ", so a predicted rate of ",
                sp.S.Zero, " gives a finite loss; only the log moves. This is the NLL of a Poisson with rate ",
                _obs(d, rate + eps), ", less the constants ", eps, " and ", _obs(d, sp.log(sp.factorial(y))), ".",
            ),
            lhs,
        ))
        # The loss is the NLL of a Poisson with rate + eps, less constants: that is its likelihood.
        shifted = d.nll_theta.subs(rate, rate + eps)
        offset = sp.expand(shifted - d.scale * loss)
        if offset.has(rate):  # pragma: no cover - true by the algebra above
            raise AssertionError("the eps-shifted Poisson NLL left the rate in the offset")
    if opts.get("exact"):
        loss, offset = _keep_constant(w, loss, offset, "exact=True adds the constant ", " (computed with "
                                      "gammaln) that the default drops: the loss is then the exact NLL.")
    if opts.get("full"):
        stirling = sp.Piecewise((y * sp.log(y) - y + sp.log(2 * sp.pi * y) / 2, y > 1), (0, True))
        log_factorial = _obs(d, sp.log(sp.factorial(y)))
        w.steps.append(Step(
            "Add Stirling's term where y > 1 (full=True)",
            _obs(d, sp.Add(loss, stirling, evaluate=False)),
            reason(
                "torch's full=True adds Stirling's approximation of ", log_factorial, ", ",
                _obs(d, stirling.args[0][0]), ", only where ", _obs(d, y > 1), " (", term("log_factorial_zero_one"),
                "); it is not the exact ", log_factorial, ", which exact=True adds.",
            ),
            lhs,
        ))
        # The kernel evaluates both branches (np.select); inside the taken one y > 1, so
        # y -> max(y, 1) changes nothing there and keeps log(0) out of the unused one.
        guarded = sp.Piecewise((stirling.args[0][0].subs(y, sp.Max(y, 1)), y > 1), (0, True))
        loss = loss + guarded
        offset = sp.expand(offset - d.scale * guarded)
    w.loss = loss
    w.offset = offset


KINDS = {
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
    "gaussian_nll": _gaussian_nll,
    "poisson_nll": _poisson_nll,
}


def _reduceStep(d: Derivation, opts: dict, reduction: str) -> Step:
    """The reduction written out, with torch's denominator."""
    i = OBS
    n = N_OBS
    ell = sp.IndexedBase("ell")[i]
    wi = sp.IndexedBase("w")[i]
    y_i = sp.IndexedBase("y")[i]
    ignore = opts.get("ignore_index")
    keep = Indicator(sp.Ne(y_i, ignore)) if ignore is not None else 1
    weighted = keep * wi * ell
    if reduction == "none":
        expr = weighted
        lhs = sp.Symbol("L_i")
    elif reduction == "sum":
        expr = sp.Sum(weighted, (i, 1, n))
        lhs = sp.Symbol("L")
    elif "class_weight" in opts:
        alpha_y = sp.IndexedBase(sp.Symbol("class_weight"))[sp.Symbol("y_i")]
        expr = Quotient(sp.Sum(weighted, (i, 1, n)), sp.Sum(keep * alpha_y, (i, 1, n)))
        lhs = sp.Symbol("L")
    elif ignore is not None:
        expr = Quotient(sp.Sum(weighted, (i, 1, n)), sp.Sum(keep, (i, 1, n)))
        lhs = sp.Symbol("L")
    else:
        expr = Quotient(sp.Sum(weighted, (i, 1, n)), n)
        lhs = sp.Symbol("L")
    why = reason(
        f"reduction='{reduction}'. ", _W_I, " is the per-sample weight (kernel(..., weight=w); ", sp.S.One,
        " when not given): it rescales each term and, as for torch's binary_cross_entropy weight, never enters "
        "the mean's denominator.",
    )
    if reduction == "mean" and "class_weight" in opts:
        why = reason(
            why, " With class weights the mean divides by the total weight of the target classes, ",
            term("target_class_weight"), ", as torch's cross_entropy does for class-index targets (probability targets "
            "divide by ", n, ").",
        )
    if ignore is not None:
        why = reason(
            why, f" Targets equal to ignore_index = {ignore} add nothing to the sum and nothing to the "
            "denominator; if every target is ignored the mean is ", term("zero_over_zero"), ", as in torch.",
        )
    return Step("Reduce over the observations", expr, why, lhs)


def _cache_key(d, options):
    # The symbolic result depends on which options are set (and on the booleans), not on values.
    return (id(d), tuple(sorted((k, v if isinstance(v, bool) else None) for k, v in options.items())))


def _fill(step: Step, opts: dict) -> Step:
    """Put the option values into the step's texts (the expressions keep the symbols)."""
    title, why = step.title, step.why
    for name in ("label_smoothing", "eps"):
        if name in opts:
            value = f"{opts[name]:g}"
            title = title.replace(f"<{name}>", value)
            why = tuple(part.replace(f"<{name}>", value) if isinstance(part, str) else part for part in why)
    return dataclasses.replace(step, title=title, why=why)


_CACHE: dict = {}


def with_options(d: Derivation, reduction: str = "mean", **options) -> Derivation:
    """``d`` with torch-style loss options applied symbolically and shown as steps.

    The result carries the option values in ``loss_options`` (compile() builds
    the kernel from it) and the parameters an option adds (class_weight,
    pos_weight, label_smoothing, eps) in ``extra_params``.
    """
    if d.plain is not None:
        merged = {**{k: v for k, v in d.loss_options.items() if k != "reduction"}, **options}
        return with_options(d.plain, reduction=reduction, **merged)
    if reduction not in REDUCTIONS:
        raise UnknownNameError("reduction", reduction, REDUCTIONS)
    opts = check_options(d, options)
    if opts.get("log_input") and d.link is None:
        derive = importlib.import_module(_LAZY["derive"]).derive
        d = derive(d.spec, predict=d.predict, link="log")
    key = _cache_key(d, opts)
    if key not in _CACHE:
        _CACHE[key] = (d, _transform(d, opts))  # d is kept alive, so its id stays unique
    symbolic = _CACHE[key][1]
    return dataclasses.replace(
        symbolic,
        steps=(*(_fill(s, opts) for s in symbolic.steps), _reduceStep(d, opts, reduction)),
        loss_options={**opts, "reduction": reduction},
    )


def _transform(d: Derivation, opts: dict) -> Derivation:
    w = _Work(d, d.loss.expr, d.offset, [], [], {})
    kind = option_kind(d)
    if kind is not None and any(o in OPTIONS for o in opts):
        KINDS[kind](w, opts)
    loss = type(d.loss)(d.loss.name, w.loss, d.loss.template, d.loss.inner)
    nll = d.scale * w.loss + w.offset
    extra = tuple(w.params)
    return dataclasses.replace(
        d,
        nll=nll,
        loss=loss,
        offset=w.offset,
        inputs=(*d.inputs, *(p.name for p in extra)),
        steps=(*d.steps, *w.steps),
        symbols={**d.symbols, **w.symbols},
        extra_params=extra,
        plain=d,
    )


__all__ = ["OPTIONS", "Option", "with_options", "option_kind", "supported", "check_options"]
