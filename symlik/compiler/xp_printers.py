"""Printers for the differentiable array libraries (torch, JAX), merged from NumPy's.

As ``sympy/printing/numpy.py`` does for its CuPy and JAX printers, each
printer keeps the NumPy printer's output and renames the functions it
calls through a table; what a library lacks is listed explicitly and
raises NotSupportedError when a loss needs it. Two forms differ from the
NumPy printer so that autograd gives the right gradient everywhere:

* softplus(z) - y z prints as y softplus(-z) + (1 - y) softplus(z), an exact
  identity (softplus(z) - z = softplus(-z)) without max/abs, whose
  subgradients at z = 0 would give 1 - y instead of sigmoid(0) - y = 1/2 - y;
  it also never cancels for labels in [0, 1] (optax's form).
* softplus itself is the library's logaddexp(z, 0), stable and with an
  exact derivative.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.errors import NotSupportedError
from symlik.core.functions import BesselIRatio, LogBesselI, LogBesselIOverPower, LogBesselI0, LogBesselI0e, LogErfc, LogNdtr, InverseMills, Softplus, XMul
from symlik.compiler import codegen
from symlik.compiler.codegen import SymlikNumPyPrinter


# The stable functions these printers write with the library's own routines (the rest are
# lowered by symlik.core.functions.basic before printing).
LIBRARY_KEEPS = (LogBesselI0, LogBesselI0e, LogNdtr, LogErfc, InverseMills, XMul)
# ... and those that torch and JAX compute with NumPy's routine on the host (no library has I_nu of any order)
HOST_KEEPS = (LogBesselI, LogBesselIOverPower, BesselIRatio)


def _helpers(*functions, **more) -> dict:
    """The NumPy printer's helpers for ``functions`` (the runtime namespace has them too),
    plus this library's own: the table merged from NumPy's."""
    return {**{f: SymlikNumPyPrinter.helpers[f] for f in functions}, **more}


# The runtime helpers that the torch and JAX namespaces provide (torch_backend._namespace,
# jax_backend._namespace); every other stable function is lowered by
# symlik.core.functions.basic before printing, and one that reaches the printer anyway
# raises NotSupportedError naming the library.
_LIBRARY_HELPERS = ("Sigmoid", "XLog1PY", "XMul", "LogGamma", "loggamma", "erf", "erfc")


class _LibraryPrinter(SymlikNumPyPrinter):
    short_module = ""
    renames: dict = {}  # numpy name -> this library's name
    special: dict = {}  # scipy.special name -> fully qualified name here
    missing: frozenset = frozenset()
    library = ""

    def doprint(self, expr, assign_to=None):
        # Constant subexpressions (log 2, sqrt(2 pi)) become numbers: torch.log(2) is a type error.
        expr = expr.replace(
            lambda e: isinstance(e, (sp.Function, sp.Pow)) and e.is_number and not e.is_Rational and not e.has(sp.Indexed),
            lambda e: sp.Float(e.evalf(20), 17),
        )
        return super().doprint(expr, assign_to)

    def _module_format(self, fqn, register=True):
        for prefix in ("numpy.", "np."):
            if fqn.startswith(prefix):
                name = fqn[len(prefix):]
                if name in self.missing:
                    raise NotSupportedError(f"{self.library} has no {name}; this loss does not compile for it")
                return f"{self.short_module}.{self.renames.get(name, name)}"
        if fqn.startswith("scipy.special."):
            name = fqn[len("scipy.special."):]
            if name not in self.special:
                raise NotSupportedError(f"{self.library} has no scipy.special.{name}; this loss does not compile for it")
            return self.special[name]
        return fqn

    def _print_Softplus(self, expr):
        return f"_softplus({self._print(expr.args[0])})"

    def _print_logaddexp(self, expr):
        # the library's own logaddexp: it subtracts the larger argument first, and autograd knows it
        a, b = (self._print(arg) for arg in expr.args)
        return f"{self.short_module}.logaddexp({a}, {b})"

    def _dd_argument(self, arg):
        return None  # double-double arguments are the NumPy runtime's; here the library's cos/sin

    # log I0 through the exponentially scaled i0e: finite for every kappa (I0 overflows at 713).
    def _print_LogBesselI0e(self, expr):
        x = self._print(expr.args[0])
        return f"{self._module_format('numpy.log')}({self._module_format('scipy.special.i0e')}({x}))"

    def _print_LogBesselI0(self, expr):
        x = expr.args[0]
        return f"({self._print_LogBesselI0e(expr)} + {self._print(sp.Abs(x))})"

    # log Phi by the library's log_ndtr (stable in both tails, with its own gradient);
    # log erfc(x) = log 2 + log Phi(-sqrt(2) x), the same routine.
    def _print_LogNdtr(self, expr):
        return f"{self._module_format('scipy.special.log_ndtr')}({self._print(expr.args[0])})"

    def _print_LogErfc(self, expr):
        x = self._print(-sp.sqrt(2) * expr.args[0])
        return f"({float(sp.log(2))!r} + {self._module_format('scipy.special.log_ndtr')}({x}))"

    # phi(x)/Phi(x) by the library's scaled erfcx: finite where phi and Phi both underflow
    def _print_InverseMills(self, expr):
        t = self._print(-expr.args[0] / sp.sqrt(2))
        return f"({float(sp.sqrt(2 / sp.pi))!r} / {self._module_format('scipy.special.erfcx')}({t}))"

    def _print_Add(self, expr, order=None):
        softplus = [t for t in expr.args if isinstance(t, Softplus)]
        if len(softplus) == 1:
            z = softplus[0].args[0]
            rest = expr - softplus[0]
            weight = (-rest / z).cancel()
            # the weight must be free of z's symbols (a target y): rest / z with z in it divides by
            # z, which is 0 where logaddexp's arguments tie (|a - b| = 0 gives 0/0 = nan)
            shared = weight.free_symbols & z.free_symbols
            if rest != 0 and not shared and not weight.has(z) and (weight * z - (-rest)).expand() == 0:
                y = self._print(weight)
                zs = self._print(z)
                return f"(({y})*_softplus(-({zs})) + (1 - ({y}))*_softplus({zs}))"
            if rest != 0:
                # Any other sum with a softplus keeps the library's softplus: the NumPy printer's
                # max(z, 0) + log1p(exp(-|z|)) split passes an int to torch.maximum.
                return f"({self._print(softplus[0])} + ({self._print(rest)}))"
        return super()._print_Add(expr, order=order)


class SymlikTorchPrinter(_LibraryPrinter):
    short_module = "torch"
    library = backend = "torch"
    helpers = _helpers(*_LIBRARY_HELPERS, digamma="torch.special.digamma", trigamma="_trigamma")
    renames = {
        "arccos": "acos", "arcsin": "asin", "arctan": "atan", "arctan2": "atan2", "arccosh": "acosh",
        "arcsinh": "asinh", "arctanh": "atanh", "power": "pow", "pi": "pi", "e": "e",
        # torch.equal compares whole tensors to one bool; torch.eq is the elementwise comparison
        "equal": "eq", "not_equal": "ne",
    }
    special = {
        "gammaln": "torch.special.gammaln",
        "digamma": "torch.special.digamma",
        "polygamma": "torch.special.polygamma",
        "erf": "torch.special.erf",
        "erfc": "torch.special.erfc",
        "log_ndtr": "torch.special.log_ndtr",
        "erfcx": "torch.special.erfcx",
        "i0": "torch.special.i0",
        "i0e": "torch.special.i0e",
        "i1": "torch.special.i1",
        "i1e": "torch.special.i1e",
        "xlogy": "torch.special.xlogy",
        "xlog1py": "torch.special.xlog1py",
        "expit": "torch.sigmoid",
        "logit": "torch.logit",
    }
    missing = frozenset({"euler_gamma", "logaddexp2"})

    def _print_LogBesselI(self, expr):
        return "_log_iv(%s, %s)" % tuple(self._print(a) for a in expr.args)

    def _print_LogBesselIOverPower(self, expr):
        return "_log_iv_over_power(%s, %s)" % tuple(self._print(a) for a in expr.args)

    def _print_BesselIRatio(self, expr):
        return "_iv_ratio(%s, %s)" % tuple(self._print(a) for a in expr.args)

    def _print_Max(self, expr):
        # torch.maximum takes tensors only; clamp_min takes a number.
        nums = [a for a in expr.args if a.is_number]
        rest = [a for a in expr.args if not a.is_number]
        out = self._print(rest[0])
        for a in rest[1:]:
            out = f"torch.maximum({out}, {self._print(a)})"
        for a in nums:
            out = f"torch.clamp_min({out}, {float(a)!r})"
        return out

    def _print_Sum(self, expr):
        return super()._print_Sum(expr).replace("axis=-1", "dim=-1")

    def _print_Piecewise(self, expr):
        # torch has no select(condlist, choicelist): nested where, last branch first.
        pieces = list(expr.args)
        value, cond = pieces[-1]
        out = self._print(value) if cond == sp.true else "torch.nan"
        if cond != sp.true:
            pieces = pieces + [(sp.nan, sp.true)]
        for value, cond in reversed(pieces[:-1]):
            out = f"torch.where({self._print(cond)}, {self._print(value)}, {out})"
        return out


class SymlikJaxPrinter(_LibraryPrinter):
    short_module = "jnp"
    library = backend = "jax"
    helpers = _helpers(*_LIBRARY_HELPERS, digamma="jax.scipy.special.digamma", trigamma="_trigamma")
    special = {
        name: f"jax.scipy.special.{name}"
        for name in ("gammaln", "digamma", "polygamma", "erf", "erfc", "i0", "i0e", "i1", "i1e", "xlogy", "xlog1py",
                     "expit", "logit", "betaln", "log_ndtr", "erfcx")
    }

    _print_LogBesselI = SymlikTorchPrinter._print_LogBesselI
    _print_LogBesselIOverPower = SymlikTorchPrinter._print_LogBesselIOverPower
    _print_BesselIRatio = SymlikTorchPrinter._print_BesselIRatio


def generate_torch(plan) -> str:
    """The torch backend's source: the NumPy backend's, printed with torch's names."""
    return codegen.generate(plan.lowered(keep=LIBRARY_KEEPS + HOST_KEEPS), SymlikTorchPrinter)


def generate_jax(plan) -> str:
    """The JAX backend's source: the NumPy backend's, printed for jax.numpy."""
    return codegen.generate(plan.lowered(keep=LIBRARY_KEEPS + HOST_KEEPS), SymlikJaxPrinter)
