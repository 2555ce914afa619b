"""Special functions that name the stable forms.

The derivation keeps them readable (each prints as its exact formula in
LaTeX) while each backend prints its stable implementation. They rewrite
to elementary functions, which is how identities involving them are proven.
"""

from __future__ import annotations

import sympy as sp


# The summation index inside logsumexp/softmax: one fixed symbol, so that two
# rewritten copies of the same logsumexp are the same expression and cancel.
EVENT_J = sp.Symbol("j", integer=True, positive=True)


class Sigmoid(sp.Function):
    """sigma(z) = 1 / (1 + e^{-z})."""

    nargs = 1

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0]) * (1 - Sigmoid(self.args[0]))

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class Softplus(sp.Function):
    """softplus(z) = log(1 + e^{z}), printed as that formula."""

    nargs = 1

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    _eval_rewrite_as_log = _eval_rewrite_as_exp

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0])

    def _latex(self, printer):
        return r"\log\left(1 + e^{%s}\right)" % printer._print(self.args[0])


class LogSumExp(sp.Function):
    """log sum_{j=1}^{K} exp(z_j) over the event axis: LogSumExp(z_base, K)."""

    nargs = 2

    def _eval_rewrite_as_exp(self, zbase, K, **kwargs):
        return sp.log(sp.Sum(sp.exp(zbase[EVENT_J]), (EVENT_J, 1, K)))

    def _eval_is_real(self):
        return True

    def _latex(self, printer):
        z, K = self.args
        if isinstance(z, sp.Indexed):  # z_{i, j}: the observation index is already there
            zj = r"%s_{%s, j}" % (printer._print(z.base.label), ", ".join(printer._print(i) for i in z.indices))
        else:
            zj = r"%s_{j}" % printer._print(z)
        return r"\log \sum_{j=1}^{%s} e^{%s}" % (printer._print(K), zj)


class XLogY(sp.Function):
    """x log y with the convention 0 log 0 = 0 (printed as x log y)."""

    nargs = 2

    def _eval_rewrite_as_log(self, x, yv, **kwargs):
        return x * sp.log(yv)

    def _latex(self, printer):
        x, yv = self.args
        return r"%s \log{\left(%s \right)}" % (
            printer.parenthesize(x, sp.printing.precedence.PRECEDENCE["Mul"]),
            printer._print(yv),
        )


class LossSymbol(sp.Function):
    """A named loss applied to data, for display only: MSE(y, mu)."""

    def _latex(self, printer):
        name = self.__class__.__name__
        return r"\operatorname{%s}\left(%s\right)" % (name, ", ".join(printer._print(a) for a in self.args))


class ArgMin(sp.Function):
    """argmin over the trailing arguments, for display only."""

    def _latex(self, printer):
        body, *over = self.args
        return r"\operatorname*{arg\,min}_{%s} %s" % (
            ", ".join(printer._print(o) for o in over),
            printer.parenthesize(body, sp.printing.precedence.PRECEDENCE["Mul"]),
        )

    def _sympystr(self, printer):
        body, *over = self.args
        return "argmin_{%s} %s" % (", ".join(printer._print(o) for o in over), printer._print(body))

    def _pretty(self, printer):
        return _pretty_text(sp.sstr(self), printer)


def _pretty_text(text, printer):
    from sympy.printing.pretty.stringpict import prettyForm

    return prettyForm(text)


class DensityOf(sp.Function):
    """p(y | theta) as an unevaluated symbol, for the early derivation steps."""

    def _latex(self, printer):
        y, *theta = self.args
        return r"p\left(%s \mid %s\right)" % (printer._print(y), ", ".join(printer._print(t) for t in theta))

    def _sympystr(self, printer):
        y, *theta = self.args
        return "p(%s | %s)" % (printer._print(y), ", ".join(printer._print(t) for t in theta))

    def _pretty(self, printer):
        return _pretty_text(sp.sstr(self), printer)


class XLog1PY(sp.Function):
    """x log(1 + y) with the convention 0 log 0 = 0 (printed as x log(1 + y))."""

    nargs = 2

    def _eval_rewrite_as_log(self, x, yv, **kwargs):
        return x * sp.log(1 + yv)

    def _latex(self, printer):
        x, yv = self.args
        return r"%s \log{\left(%s \right)}" % (
            printer.parenthesize(x, sp.printing.precedence.PRECEDENCE["Mul"]),
            printer._print(1 + yv),
        )


STABLE_FUNCTIONS = (Sigmoid, Softplus, LogSumExp, XLogY, XLog1PY)


def exact(expr: sp.Expr) -> sp.Expr:
    """Rewrite every stable special function back to elementary functions."""
    def one(e):
        return e.rewrite(sp.log) if isinstance(e, (XLogY, XLog1PY)) else e.rewrite(sp.exp)

    return expr.replace(lambda e: isinstance(e, STABLE_FUNCTIONS), one)


def loss_symbol(name: str, *args) -> sp.Expr:
    """A display-only loss call whose LaTeX name is ``name``."""
    cls = type(name, (LossSymbol,), {})
    return cls(*args)
