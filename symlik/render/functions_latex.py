"""The LaTeX of the display-only functions that the layers that derive define, by class name.

symlik.analysis and symlik.derivation show some quantities as SymPy functions (an
indicator, an expectation, a sample quantile) that carry no LaTeX: those layers write
none. SymPy's printers find a ``_print_<ClassName>`` method by the class's name, so the
notation printer (symlik.render.printing) inherits these.

(symlik.core.functions' stable special functions keep their own ``_latex``: the compiler,
below this layer, prints a kernel's formula with SymPy's printer.)

To show a new function, add a ``_print_<ClassName>(self, expr)`` method here; a named
quantity with a fixed template belongs in the notation table (core/notation.py's FORMS).
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp


def logaddexp_terms(expr) -> list:
    """The exponents of a (nested) logaddexp: log(e^a + e^b + e^c) for logaddexp(logaddexp(a, b), c)."""
    if isinstance(expr, logaddexp):
        return [t for a in expr.args for t in logaddexp_terms(a)]
    return [expr]


class FunctionsLatex:
    """``_print_<ClassName>`` for symlik's display-only SymPy functions (a mixin of a LatexPrinter)."""

    # -- display-only functions of the layers that derive ------------------------------

    def _print_logaddexp(self, expr):  # sympy.codegen's node (zero-inflated densities): log(e^a + e^b)
        # nested nodes (a mixture's log-sum-exp over K components) read as one sum, not K - 1 logs
        return r"\log%s" % self._exp_sum(expr)

    def _print_exp(self, expr):
        # e^{log(e^a + e^b)}, left by differentiating a log-sum-exp, is the sum itself
        if isinstance(expr.args[0], logaddexp):
            return self._exp_sum(expr.args[0])
        return self._print_ExpBase(expr)

    def _exp_sum(self, expr):
        """(e^a + e^b + ...) for a (nested) logaddexp of a, b, ..."""
        return r"\left(%s\right)" % " + ".join(r"e^{%s}" % self._print(t) for t in logaddexp_terms(expr))

    def _print_Indicator(self, expr):  # derivation/options.py: 1[condition]
        return r"\mathbb{1}\left[%s\right]" % self._print(expr.args[0])

    def _print_Quotient(self, expr):  # derivation/options.py: num / den, always as a fraction
        return r"\frac{%s}{%s}" % (self._print(expr.args[0]), self._print(expr.args[1]))

    def _print_DensityOfQ(self, expr):  # analysis/divergence.py: q(y | theta)
        y, *theta = expr.args
        return r"q\left(%s \mid %s\right)" % (self._print(y), ", ".join(self._print(t) for t in theta))

    def _print_Expectation(self, expr):  # analysis/divergence.py: E_{y ~ p}[f(y)]
        return r"\mathbb{E}_{y \sim p}\left[%s\right]" % self._print(expr.args[0])

    def _print_SampleQuantile(self, expr):  # analysis/baseline.py: the q-quantile of y_1..y_n
        data, q = expr.args
        if q == sp.Rational(1, 2):
            return r"\operatorname{median}_{i}\, %s" % self._print(data)
        return r"\operatorname{quantile}_{%s}\, %s" % (self._print(q), self._print(data))
