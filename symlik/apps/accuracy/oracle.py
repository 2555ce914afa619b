"""The truth, at 50 correct digits, with mpmath.

The NLL truth is -log p(y | theta) evaluated from the distribution's own
``density`` (the formula in its file, checked against scipy.stats elsewhere;
its logarithm is only distributed over products and powers by SymPy),
with the link's inverse applied numerically: it shares nothing with the
derivation, the rewrites, the printer or the runtime. The loss truth is the
exact formula of the loss (before any stability rewrite) or, where that is
0 log 0, the NLL through the proven identity loss = (nll - offset) / scale. Gradient truths are
mpmath finite differences of these functions. Each value is computed at
increasing precision until two successive precisions agree, so that the
cancellation in 1 - sigmoid(1000) (435 digits) is no trap.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import mpmath
import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp

from symlik.core.functions import exact
from symlik.model import links

EVENT_SIZE = 3
DIGITS = 50
BEYOND_FLOAT64 = mpmath.mpf(10) ** 400
# A true value or slope of exactly 0 is taken as settled only at this many digits or more:
# 1 - e^-368, inside a Weibull's left-censored log-survival whose truth is 1.7e-160, is 0 at 60
# digits and at 120 alike, and any difference a double can hold (above 1e-308) shows within 320.
ZERO_DIGITS = 320


def _agree(a, b) -> bool:
    if a == b:
        return True
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    return abs(a - b) <= mpmath.mpf(10) ** (-DIGITS) * max(abs(a), abs(b), mpmath.mpf(10) ** (-300))


def start_digits(values: dict) -> int:
    """Enough digits that 1 - x stays exact for every input x: 1 - 1e-300 needs 300 of them
    (no higher precision would reveal a difference that the first one rounded away)."""
    exps = [0]
    for v in values.values():
        for x in v if isinstance(v, (list, tuple)) else [v]:
            if x:
                exps.append(abs(int(mpmath.floor(mpmath.log10(abs(x))))))
    return DIGITS + 10 + max(exps)


def converged(fn: Callable[[], mpmath.mpf], start: int = DIGITS + 10, limit: int = 3200, zero_digits: int = 0):
    """fn() at increasing precision until two successive values agree to DIGITS digits; an exact 0
    only once the precision reaches ``zero_digits`` (see ZERO_DIGITS)."""
    prev = None
    dps = start
    while dps <= limit:
        with mpmath.workdps(dps):
            try:
                value = +fn()
            except (ZeroDivisionError, ValueError, OverflowError, MemoryError):
                # (MemoryError: mpmath forms e^x exactly, and x = -e^(1e16), a Weibull's survival
                # 1e16 scales out, asks for a 2^(1e16)-bit shift; the log of such a number is far
                # beyond every float's range, so there is no truth to measure against there)
                value = mpmath.nan
            if isinstance(value, mpmath.mpc):
                value = value.real if value.imag == 0 else mpmath.nan
        if prev is not None and (_agree(prev, value) or (mpmath.isnan(prev) and mpmath.isnan(value))):
            if value == 0 and dps < zero_digits:
                prev, dps = value, dps * 2
                continue  # two zeros may be one difference rounded away twice
            return value
        if mpmath.isfinite(value) and abs(value) > BEYOND_FLOAT64:
            return value  # out of every dtype's range: measured nowhere, so no need to settle it
        prev, dps = value, dps * 2
    return mpmath.nan  # never settled: treated as "no finite truth here"


# symlik's stable functions where a density is written with them (an AFT's softplus, a log Phi),
# each as the formula it names, in mpmath: the truth does not go through the stable forms
def _exp_in_reach(x):
    """e^x, or its limit (0, inf) where |x| > 1e300: mpmath forms e^x exactly, and at x = e^(1e8)
    (an ordinal threshold theta + e^delta with delta = 1e8, a GEV's t^(-1/xi)) that needs log 2 to
    1e8 bits; such an e^x is far beyond every float's range either way."""
    if isinstance(x, mpmath.mpf) and abs(x) > BEYOND_EXP:
        return mpmath.inf if x > 0 else mpmath.mpf(0)
    return mpmath.exp(x)


BEYOND_EXP = mpmath.mpf(10) ** 300

_DEFINITIONS = {
    "exp": _exp_in_reach,
    "Softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "Sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "LogNdtr": lambda x: mpmath.log(mpmath.ncdf(x)),
    "LogErfc": lambda x: mpmath.log(mpmath.erfc(x)),
    "Log1mExp": lambda x: mpmath.log(1 - mpmath.exp(x)),
    "LogExpm1": lambda x: mpmath.log(mpmath.exp(x) - 1),
    "Log1pPositive": lambda x: mpmath.log(1 + x),
}


def _log_of_branches(density):
    """log p, taken inside each branch of a piecewise density (log 0 = -inf): expand_log does not
    go into a Piecewise, and a GEV's e^{-t^{-1/xi}} at t^{-1/xi} = e^{1e300} would be formed before
    its log, which mpmath tries to do by computing log 2 to 2^997 bits."""
    if isinstance(density, sp.Piecewise):
        return sp.Piecewise(*[(sp.S.NegativeInfinity if value == 0 else _log_of_branches(value), condition)
                              for value, condition in density.args])
    return sp.log(density)


def _inverse_link(link: str | None):
    """theta = g^{-1}(z) in mpmath: the link's own mpmath form, written from its definition
    apart from the SymPy forms the kernels are compiled from."""
    if link is None:
        return None
    inverse = links.get(link).precise_inverse
    if inverse is None:
        raise NotImplementedError(f"no oracle for the {link!r} link")
    return inverse


@dataclass
class Oracle:
    """mpmath functions of one derivation's kernel inputs (event inputs as lists)."""

    d: object

    # -- making SymPy expressions concrete (K = 3, Indexed -> plain symbols) --------------
    @cached_property
    def _names(self):
        return list(self.d.inputs)

    def _flat_symbols(self, name, event: bool):
        if event:
            return [sp.Symbol(f"{name}__{i}", real=True) for i in range(1, EVENT_SIZE + 1)]
        return [sp.Symbol(f"{name}__s", real=True)]

    def _is_event(self, name) -> bool:
        spec = self.d.spec
        if name == "y":
            return spec.is_event
        if name in spec.param_names:
            return spec.param(name).event
        return isinstance(self.d.symbols.get(name), sp.Indexed)

    def _concrete(self, expr, mapping_names):
        """expr with K = 3, sums and products expanded, every input a plain symbol."""
        spec = self.d.spec
        expr = exact(expr)
        if spec.is_event:
            expr = expr.subs(spec.K, EVENT_SIZE).doit()
        repl = {}
        for name in mapping_names:
            sym = self.d.symbols.get(name) if name in self.d.symbols else spec.symbol(name)
            flat = self._flat_symbols(name, self._is_event(name))
            if isinstance(sym, sp.Indexed):
                base = sym.base
                for i, f in enumerate(flat, 1):
                    repl[base[i]] = f
            else:
                repl[sym] = flat[0]
        # Symbols that carry the same name with other assumptions (spec.symbol vs d.symbols).
        by_name = {str(k): v for k, v in repl.items() if not isinstance(k, sp.Indexed)}
        expr = expr.xreplace(repl)
        expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name and s not in repl.values()})
        return expr

    def _lambdify(self, expr, names):
        args = [f for n in names for f in self._flat_symbols(n, self._is_event(n))]
        concrete = self._concrete(expr, names)
        # SymPy's codegen nodes (logaddexp in a zero-inflated loss) as the exact formulas they stand for
        concrete = concrete.replace(lambda e: isinstance(e, logaddexp), lambda e: sp.log(sp.exp(e.args[0]) + sp.exp(e.args[1])))
        fn = sp.lambdify(args, concrete, modules=[_DEFINITIONS, "mpmath"])
        return fn, concrete

    def _flatten(self, values: dict, names):
        out = []
        for n in names:
            v = values[n]
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return out

    # -- the NLL from the density ------------------------------------------------------------
    @cached_property
    def _density(self):
        spec = self.d.spec
        names = ["y", *spec.param_names]
        dens = spec.density(spec.y, **{p: spec.symbol(p) for p in spec.param_names})
        repl_names = names
        fn, _ = self._lambdify_density(dens, repl_names)
        return fn, names

    def _lambdify_density(self, dens, names):
        spec = self.d.spec
        if spec.is_event:
            dens = dens.subs(spec.K, EVENT_SIZE).doit()
        repl = {}
        for name in names:
            sym = spec.symbol(name) if name != "y" else spec.y
            flat = self._flat_symbols(name, self._is_event(name))
            if isinstance(sym, sp.Indexed):
                for i, f in enumerate(flat, 1):
                    repl[sym.base[i]] = f
            else:
                repl[sym] = flat[0]
        dens = dens.xreplace(repl)
        args = [f for n in names for f in self._flat_symbols(n, self._is_event(n))]
        # log p with the logarithm distributed over products and powers (exactly: the
        # densities are positive): no exp(-1e24) to form and then take the log of.
        log_density = sp.expand_log(_log_of_branches(dens), force=True)
        # b^e with e a parameter as e^{e log b}: mpmath raises to an integer-valued e (1/xi = 1e8) by
        # repeated squaring at full precision, which for a GEV's t^{-1/xi} did not finish in minutes
        log_density = log_density.replace(lambda e: isinstance(e, sp.Pow) and not e.exp.is_number,
                                          lambda e: sp.exp(e.exp * sp.log(e.base), evaluate=False))
        return sp.lambdify(args, log_density, modules=[_DEFINITIONS, "mpmath"]), log_density

    def _theta(self, values: dict) -> dict:
        """Kernel inputs -> distribution parameters (undo the link)."""
        d = self.d
        theta = {"y": values["y"]}
        inverse = _inverse_link(d.link)
        for name in d.spec.param_names:
            if name in values:
                theta[name] = values[name]
        if inverse is not None:
            param = d.spec.link_param(d.link)
            zname = next(n for n in d.predicted_inputs if n not in d.spec.param_names)
            theta[param] = inverse(values[zname])
        return theta

    def nll(self, values: dict):
        fn, names = self._density
        theta = self._theta(values)
        return -fn(*self._flatten(theta, names))

    # -- scale and offset (for the loss truth), and term magnitudes -----------------------------
    @cached_property
    def _scale_offset(self):
        names = [n for n in self.d.inputs]
        fs, _ = self._lambdify(self.d.scale, names)
        fo, _ = self._lambdify(self.d.offset, names)
        return fs, fo, names

    @cached_property
    def _loss_direct(self):
        names = list(self.d.inputs)
        fn, _ = self._lambdify(self.d.loss.expr, names)
        return fn, names

    def loss(self, values: dict):
        """The loss's exact formula; where that is 0 log 0 (nan in mpmath), the NLL through
        the proven identity, (nll - offset) / scale, which takes 0 log 0 = 0 from the density."""
        fn, names = self._loss_direct
        args = self._flatten(values, names)
        try:
            direct = fn(*args)
        except (ZeroDivisionError, ValueError):
            direct = mpmath.nan
        if not mpmath.isnan(direct):
            return direct
        fs, fo, _ = self._scale_offset
        return (self.nll(values) - fo(*args)) / fs(*args)

    def value(self, target: str, values: dict):
        return self.nll(values) if target == "nll" else self.loss(values)

    @cached_property
    def _terms(self):
        out = {}
        names = list(self.d.inputs)
        for target, expr in (("nll", self.d.nll), ("loss", self.d.loss.expr)):
            fns = []
            for t in sp.Add.make_args(sp.expand(exact(expr))):
                fn, _ = self._lambdify(t, names)
                fns.append(fn)
            out[target] = (fns, names)
        return out

    def term_functions(self, target: str):
        """Callables on the input dict, one per additive term of the exact expression
        (their magnitudes scale the error bound where the value itself is near 0)."""
        fns, names = self._terms[target]

        def wrap(fn):
            def f(values):
                v = fn(*self._flatten(values, names))
                return mpmath.mpf(0) if mpmath.isnan(v) else v  # 0 * log 0 terms: the convention is 0

            return f

        return [wrap(fn) for fn in fns]

    # -- helpers for the measurement ------------------------------------------------------------
    def components(self, name):
        """(name, index or None) for every scalar component of a predicted input."""
        if self._is_event(name):
            return [(name, i) for i in range(EVENT_SIZE)]
        return [(name, None)]


def derivative(f, values: dict, name: str, index, direction: int = 0):
    """d f(values) / d values[name][index], by mpmath finite differences (at working precision)."""

    def shifted(x):
        v = dict(values)
        if index is None:
            v[name] = x
        else:
            row = list(v[name])
            row[index] = x
            v[name] = row
        return f(v)

    x0 = values[name] if index is None else values[name][index]
    slope = mpmath.diff(shifted, x0, direction=direction)
    if slope == 0:
        # f(x + h) and f(x) rounded to the same number: f is so large (1e304: the hurdle's e^rate at
        # log rate = 700) that a slope of 1e15 in another input is below its last digit, at every
        # precision converged() tries. Again with as many more bits as f has above 1.
        f0 = f(values)
        if mpmath.isfinite(f0) and abs(f0) > 1:
            with mpmath.extraprec(int(mpmath.mag(f0))):
                slope = mpmath.diff(shifted, x0, direction=direction)
    return slope


def sensitivity(f, values: dict):
    """sum_i |x_i df/dx_i| over every scalar component of every input: the change of f(values)
    per unit relative change of all inputs together. Divided by |f| it is the condition number
    kappa; an algorithm is backward stable when its error is within eps * max(|f|, this).
    A derivative that does not settle (a kink, or an edge of the domain) is taken one-sided."""
    total = mpmath.mpf(0)
    for name, v in values.items():
        for index in (range(len(v)) if isinstance(v, (list, tuple)) else [None]):
            x = v if index is None else v[index]
            if x == 0:  # a relative perturbation of 0 leaves it 0
                continue
            slope = mpmath.nan
            for direction in (0, 1, -1):
                try:
                    slope = derivative(f, values, name, index, direction)
                except (ZeroDivisionError, ValueError, OverflowError):
                    slope = mpmath.nan
                if isinstance(slope, mpmath.mpc):
                    slope = slope.real if slope.imag == 0 else mpmath.nan
                if mpmath.isfinite(slope):
                    break
            if mpmath.isfinite(slope):  # otherwise strict: this input forgives nothing
                total += abs(x * slope)
    return total


__all__ = ["Oracle", "converged", "derivative", "sensitivity", "EVENT_SIZE", "DIGITS"]
