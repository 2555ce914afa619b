"""Expression -> kernel source, shared by the array backends.

Event distributions keep their event on the last axis: an Indexed ``x[k]``
prints as the whole array ``x`` and a Sum over k prints as a reduction over
``axis=-1``. Class-index targets get their own form (``gather_targets``):
Sum_k y_k A(x_k) with one-hot y is A(x_y), so the kernel gathers the few
entries it needs instead of building a one-hot matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from symlik.compiler import _numpy_runtime
from symlik.core.errors import NotSupportedError
from symlik.core.functions import LogSumExp, Sigmoid, Softmax, Softplus, XLog1PY, XLogY, XMul

GATHER_SUFFIX = "__at_y"


class NegLogSoftmax(sp.Function):
    """-log softmax(z)_k = logsumexp(z) - z_k: NegLogSoftmax(z_base, K, k). Printing only: the
    array printers write a cross-entropy as a sum of these (``cross_entropy_terms``)."""

    nargs = 3


@dataclass(frozen=True)
class CrossEntropy:
    """c (LogSumExp(z) Sum_k w_k - Sum_k XMul(w_k, z_k)) + rest, found in a sum of terms."""

    c: sp.Expr
    w: sp.Expr  # the summand w_k
    zbase: sp.IndexedBase
    size: sp.Expr
    k: sp.Symbol
    rest: sp.Expr

    def summed(self, term) -> sp.Expr:
        """c Sum_k XMul(w_k, term)."""
        return self.c * sp.Sum(XMul(self.w, term), (self.k, 1, self.size))


def cross_entropy_terms(expr) -> CrossEntropy | None:
    """``expr`` = c LogSumExp(z) Sum_k w_k - c Sum_k XMul(w_k, z_k) + rest, or None. Written as
    c Sum_k XMul(w_k, -log softmax(z)_k), it is a sum of terms >= 0 (for w >= 0) that does not
    cancel where a confident right answer makes the two terms equal to 13 digits (logits
    [30, 0, -30], target [1, 0, 0]: a loss of 9.4e-14)."""
    terms = sp.Add.make_args(expr)
    for t in terms:
        lse = [f for f in sp.Mul.make_args(t) if isinstance(f, LogSumExp)]
        sums = [f for f in sp.Mul.make_args(t) if isinstance(f, sp.Sum) and len(f.limits) == 1]
        if len(lse) != 1 or len(sums) != 1:
            continue
        (zbase, size), total = lse[0].args, sums[0]
        k, lo, hi = total.limits[0]
        if (lo, hi) != (1, size):
            continue
        c = t / (lse[0] * total)
        if c.has(LogSumExp, sp.Sum, k):
            continue
        paired = -c * sp.Sum(XMul(total.function, zbase[k]), (k, lo, hi))
        if paired in terms:
            rest = sp.Add(*(u for u in terms if u is not t and u != paired))
            return CrossEntropy(c, total.function, zbase, size, k, rest)
    return None


class ScaledSoftmaxMinus(sp.Function):
    """c softmax(z)_k - w_k: ScaledSoftmaxMinus(z_base, c, w_k). Printing only (``softmax_minus_form``)."""

    nargs = 3


def softmax_minus_form(expr):
    """``expr`` with each (c Softmax(z)_k - w_k) / d as ScaledSoftmaxMinus(z, c d, w_k d) / d
    (``scaled_softmax_minus``): before common-subexpression elimination, which would hide d."""

    def build(e):
        zbase, c, w, d = scaled_softmax_minus(e)
        return ScaledSoftmaxMinus(zbase, c, w) / d

    return expr.replace(lambda e: isinstance(e, sp.Add) and scaled_softmax_minus(e) is not None, build)


def scaled_softmax_minus(expr):
    """``expr`` = (c Softmax(z)_k - w_k) / d, as (z_base, c, w, d), or None: printed as one helper
    that computes the argmax entry as -rest / (1 + rest) for a confident right answer, where
    softmax - 1 would keep only the rounding of 1 - 9.4e-14. A divisor d common to the
    target's terms (the multinomial's y/n) is divided last: c - w_t is then n - y_t, exact in
    counts, where 1 - y_t/n would carry the rounding of y_t/n into a difference of 1e-6."""
    terms = sp.Add.make_args(expr)
    with_softmax = [t for t in terms if t.has(Softmax)]
    if len(with_softmax) != 1 or len(terms) < 2:
        return None
    t = with_softmax[0]
    factors = [f for f in sp.Mul.make_args(t) if isinstance(f, Softmax)]
    if len(factors) != 1:
        return None
    c = t / factors[0]
    if c.has(Softmax):
        return None
    w = -sp.Add(*(u for u in terms if u is not t))
    index = factors[0].args[2]
    d = sp.Mul(*(f.base ** -f.exp for f in sp.Mul.make_args(w) if f.is_Pow and f.exp.is_negative and not f.has(index)))
    return factors[0].args[0], c * d, w * d, d


def scaled_square(expr) -> tuple[float, sp.Expr] | None:
    """(c, b) where ``expr`` is c b**2 with c = +-1/2^k (the 1/2 of a squared standard score; b may be
    a ratio, c a**2 / d**2), else None.

    Printed as (c b) b, it is the same number as c (b b) wherever neither under- nor overflows: scaling
    by a power of two is exact, so both are b**2's one rounding, scaled. Where b**2 overflows and
    c b**2 does not, (c b) b is finite: a float32 multivariate normal's z = 2e19 has z**2 = inf, and
    z**2/2 = 2e38."""
    coeff, rest = expr.as_coeff_Mul()
    if not (coeff.is_Rational and abs(coeff.p) == 1 and coeff.q > 1 and coeff.q & (coeff.q - 1) == 0):
        return None
    factors = sp.Mul.make_args(rest)
    # a**2 (a/b)**2 alike: (y - mu)**2 / L**2 is one square of the ratio, as the printer writes it
    if not all(isinstance(f, sp.Pow) and f.exp in (2, -2) for f in factors) or not any(f.exp == 2 for f in factors):
        return None
    return float(coeff), sp.Mul(*(f.base if f.exp == 2 else 1 / f.base for f in factors))


class SymlikNumPyPrinter(NumPyPrinter):
    """NumPy printer with symlik's stable functions and event-axis sums."""

    _module = "numpy"
    short_module = "np"
    backend = "numpy"
    # Functions the runtime computes with a helper of the same arguments: function (SymPy's or
    # symlik's class name) -> the helper's name in the runtime's namespace. The table lives
    # beside the helpers (``_numpy_runtime.PRINTED_AS``), so that a new stable function's NumPy
    # form is written in one file. A ``_print_<name>`` method is generated for each (below the
    # class); the torch and JAX printers merge their tables from this one.
    helpers: dict = dict(_numpy_runtime.PRINTED_AS)
    # Functions this backend lacks say so explicitly (NotSupportedError naming the backend).
    missing: frozenset = frozenset()

    def _print_And(self, expr):
        return self._binary_chain("numpy.logical_and", expr)

    def _print_Or(self, expr):
        return self._binary_chain("numpy.logical_or", expr)

    def _binary_chain(self, fqn, expr):
        # NumPy's printer writes np.logical_and.reduce((a, b, c)), which makes one array of its
        # operands: a scalar condition beside an array one (a truncated normal's fixed bounds
        # against per-row means) is a ragged tuple and raises. Nested binary calls broadcast, and
        # torch's logical_and, no ufunc, has no reduce anyway.
        fn = self._module_format(fqn)
        out = self._print(expr.args[-1])
        for arg in reversed(expr.args[:-1]):
            out = f"{fn}({self._print(arg)}, {out})"
        return out

    def __init__(self, event_index=None, event_size=None, scalar_arrays=(), settings=None):
        super().__init__(settings={"fully_qualified_modules": True, **(settings or {})})
        self.event_index = event_index
        self.event_size = event_size
        self.scalar_arrays = set(scalar_arrays)
        self._in_event = 0
        self.used_event_arrays: set[str] = set()

    def doprint(self, expr, assign_to=None):
        code = super().doprint(expr, assign_to)
        # SymPy's Python printers fall back to the math module for some special
        # functions: scalar-only, so a kernel would fail on arrays. Never emit one.
        if "math." in code:
            raise NotSupportedError(f"the NumPy backend has no vectorised form for part of {expr}: {code}")
        return code

    def _print(self, expr, **kwargs):
        # A numeric constant (log(2)/2, pi, sqrt(2)) prints as a Python float: a NumPy
        # float64 scalar such as np.log(2) would promote float32 arrays to float64.
        if isinstance(expr, sp.Expr) and expr.is_number and not expr.is_Rational and expr.is_real and expr.is_finite:
            try:
                return repr(float(expr))
            except TypeError:  # a number SymPy cannot evaluate: print the expression itself
                pass
        return super()._print(expr, **kwargs)

    def _module_format(self, fqn, register=True):
        if fqn.startswith("numpy."):
            fqn = self.short_module + fqn[len("numpy") :]
        return fqn

    def _as_ordered_terms(self, expr, order=None):
        # Positive terms first, so y - mu prints as that and not (-mu) + y,
        # which costs NumPy an extra full-size temporary.
        terms = list(super()._as_ordered_terms(expr, order=order))
        return [t for t in terms if not t.could_extract_minus_sign()] + [
            t for t in terms if t.could_extract_minus_sign()
        ]

    # --- arrays ---------------------------------------------------------
    def _print_Indexed(self, expr):
        if all(i.is_Integer for i in expr.indices):
            # a component by position (a multivariate normal written out for a fixed D): x_i is
            # the (i-1)-th entry of the event axis
            return f"{self._print(expr.base.label)}[..., {', '.join(str(int(i) - 1) for i in expr.indices)}]"
        return self._print(expr.base.label)

    def _print_Components(self, expr):
        # its entries are one value per observation each, even inside an event-axis expression
        outer, self._in_event = self._in_event, 0
        try:
            parts = [self._print(a) for a in expr.args]
        finally:
            self._in_event = outer
        return f"_components({', '.join(parts)})"

    def _print_IndexedBase(self, expr):
        return self._print(expr.label)

    def _print_Symbol(self, expr):
        name = super()._print_Symbol(expr)
        if self._in_event and expr.name in self.scalar_arrays:
            self.used_event_arrays.add(expr.name)
            return f"{name}_e"
        return name

    def _print_Sum(self, expr):
        (k, lo, hi) = expr.limits[0]
        if self.event_index is None or k != self.event_index or len(expr.limits) != 1:
            raise NotImplementedError(f"only sums over the event axis compile; got {expr}")
        outer = self._in_event
        self._in_event += 1
        try:
            body = self._print(expr.function)
        finally:
            self._in_event -= 1
        if not expr.function.has(sp.Indexed):  # a constant summand: K copies
            out = f"({self._print(hi - lo + 1)})*({body})"
        else:
            out = f"{self._module_format('numpy.sum')}({body}, axis=-1)"
        # One value per observation, used inside an expression over the event axis
        # (a gradient, say): give it the trailing axis to broadcast against.
        return f"_event({out})" if outer else out

    def _print_Add(self, expr, order=None):
        # Several constant terms (log(2)/2 + log(pi)/2) become one float: one rounding, one addition.
        numbers = [t for t in expr.args if t.is_number]
        if len(numbers) > 1:
            total = sp.Add(*numbers)
            rest = [t for t in expr.args if not t.is_number]
            folded = sp.Float(total.evalf(30), 30) if not total.is_Rational else total
            return self._print_Add(sp.Add(*rest, folded, evaluate=False), order=order) if rest else self._print(folded)
        ce = cross_entropy_terms(expr)
        if ce is not None:
            summed = self._print(ce.summed(NegLogSoftmax(ce.zbase, ce.size, ce.k)))
            return summed if ce.rest == 0 else f"{summed} + ({self._print(ce.rest)})"
        # Integer-valued terms (counts, their differences, integer constants) are summed
        # first: below 2^53 their sum is exact, so a small real term is added once, to an
        # exact value. Beta-binomial's b + n - y as (b + n) - y loses b = 1e-8 entirely
        # in float32 (and 1% of it in float64) when n = y = 1e6; b + (n - y) keeps it.
        ints = [t for t in expr.args if t.is_integer]
        others = [t for t in expr.args if not t.is_integer]
        if len(ints) >= 2 and others:
            grouped = self._print(sp.Add(*ints))
            return f"({grouped}) + {self._print(sp.Add(*others))}" if len(others) > 1 or not others[0].could_extract_minus_sign() \
                else f"({grouped}) - {self._print(-others[0])}"
        # A difference of two inputs (the residual y - mu) first: sigma + y - mu as (sigma + y) - mu
        # loses sigma = 1e-8 next to y = 1e8 even when y = mu, where (y - mu) + sigma is exact.
        if len(expr.args) >= 3:
            def is_y(t):  # the observed value is always called y: prefer the residual y - theta
                t = -t if t.could_extract_minus_sign() else t
                return str(t.base.label if isinstance(t, sp.Indexed) else t) == "y"

            plus = sorted((t for t in expr.args if isinstance(t, (sp.Symbol, sp.Indexed))), key=lambda t: not is_y(t))
            minus = sorted(
                (t for t in expr.args if isinstance(-t, (sp.Symbol, sp.Indexed)) and t.could_extract_minus_sign()),
                key=lambda t: not is_y(t),
            )
            if plus and minus and not all(t.is_integer for t in (plus[0], minus[0])):
                pair = sp.Add(plus[0], minus[0])
                others = [t for t in expr.args if t is not plus[0] and t is not minus[0]]
                return f"({self._print(pair)}) + {self._print(sp.Add(*others))}" if len(others) > 1 or not others[0].could_extract_minus_sign() \
                    else f"({self._print(pair)}) - {self._print(-others[0])}"
        # softplus(z) + rest is printed as (max(z, 0) + rest) + log1p(exp(-|z|)): for a
        # label of 1 and a large logit, max(z, 0) - y z cancels exactly to 0 before the
        # tiny log1p term is added, so log(1 + e^-30) keeps its digits (torch's order).
        softplus = [t for t in expr.args if isinstance(t, Softplus)]
        if len(softplus) == 1:
            z = self._print(softplus[0].args[0])
            rest = expr - softplus[0]
            np_ = self.short_module
            head = f"{np_}.maximum({z}, 0)"
            if rest != 0:
                sign, rest = ("-", -rest) if rest.could_extract_minus_sign() else ("+", rest)
                # after a minus, a sum keeps its parentheses: max(z, 0) - (a - b), not - a - b
                printed = f"({self._print(rest)})" if sign == "-" and isinstance(rest, sp.Add) else self._print(rest)
                head = f"({head} {sign} {printed})"
            return f"{head} + {np_}.log1p({np_}.exp(-{np_}.abs({z})))"
        lse = [t for t in expr.args if isinstance(t, LogSumExp)]
        if len(lse) == 1:
            # logsumexp(z) - z_y: subtract before the log term, as above.
            return f"_logsumexp_minus({self._print(lse[0].args[0])}, {self._print(-(expr - lse[0]))})"
        return super()._print_Add(expr, order=order)

    def _print_Mul(self, expr):
        half = scaled_square(expr)
        if half is not None:
            # c b**2 with c = +-1/2^k as (c b) b (_scaled_square): the same number, finite where b**2 overflows
            c = sp.Rational(half[0])  # (written 1/2, as the other coefficients: the typeset kernel reads 1/2)
            return f"_scaled_square({self._print(half[1])}, {'-' if c < 0 else ''}1/{c.q})"
        # c*log(b**e) with b > 0 prints as (c*e)*log(b): torch's log-variance form
        # log(sigma**2)/2 is log(sigma), one log and no square over the whole array.
        logs = [f for f in expr.args if isinstance(f, sp.log) and f.args[0].is_Pow and f.args[0].base.is_positive
                and f.args[0].exp.is_real]
        if logs:
            f = logs[0]
            rest = [a for a in expr.args if a is not f]
            return self._print(sp.Mul(*rest, f.args[0].exp) * sp.log(f.args[0].base))
        # a^n / b^n is printed as (a/b)^n, after the other factors: one full-size temporary
        # fewer than a^n/b^n, and: the inverse Gaussian's (y - mu)^2 / mu^2 at
        # mu = 1e-8 has both squares near the bottom of the range (and mu^2 y below it,
        # in float32), while ((y - mu)/mu)^2 is 1.
        factors = list(expr.args)
        for i, f in enumerate(factors):
            if not (isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp >= 2):
                continue
            for j, g in enumerate(factors):
                if j != i and isinstance(g, sp.Pow) and g.exp == -f.exp:
                    rest = sp.Mul(*(h for k, h in enumerate(factors) if k not in (i, j)))
                    ratio = f"(({self._print(f.base)})/({self._print(g.base)}))**{f.exp}"
                    if rest == 1:
                        return ratio
                    if rest == -1:
                        return f"-{ratio}"
                    return f"{self.parenthesize(rest, sp.printing.precedence.PRECEDENCE['Mul'])}*{ratio}"
        return super()._print_Mul(expr)

    # --- stable special functions -----------------------------------------
    def _print_Softplus(self, expr):
        # logaddexp(0, z) = log(1 + e^z) without overflow, in one ufunc pass.
        return f"{self._module_format('numpy.logaddexp')}(0, {self._print(expr.args[0])})"

    def _print_LogSumExp(self, expr):
        out = f"_logsumexp({self._print(expr.args[0])})"
        return f"_event({out})" if self._in_event else out

    # --- special functions: vectorised runtime helpers (the ``helpers`` table) ----
    def _print_polygamma(self, expr):
        n, x = expr.args
        if n not in (0, 1):
            raise NotSupportedError(f"the {self.backend} backend has no polygamma of order {n}")
        return self._helper_call("digamma" if n == 0 else "trigamma", (x,))

    def _helper_call(self, function: str, args) -> str:
        helper = self.helpers.get(function)
        if helper is None or function in self.missing:
            raise NotSupportedError(f"the {self.backend} backend has no {function}; this expression does not compile for it")
        return f"{helper}({', '.join(self._print(a) for a in args)})"

    def _print_gamma(self, expr):
        raise NotSupportedError(
            f"{expr}: Gamma overflows at 171; write log Gamma (the rewrite gammaln_opt does this inside a log)"
        )

    _print_factorial = _print_gamma
    _print_beta = _print_gamma

    def _print_Softmax(self, expr):
        return f"_softmax({self._print(expr.args[0])})"

    def _print_ScaledSoftmaxMinus(self, expr):
        return f"_scaled_softmax_minus({', '.join(self._print(a) for a in expr.args)})"

    def _print_NegLogSoftmax(self, expr):
        return f"_neg_log_softmax({self._print(expr.args[0])})"

    def _print_cosm1(self, expr):
        dd = self._dd_argument(expr.args[0])
        return f"_dd_cosm1({dd})" if dd else f"_cosm1({self._print(expr.args[0])})"

    def _print_PowExactBase(self, expr):
        base, e = expr.args
        return f"_dd_pow({self._double_double(base)}, {self._print(e)}, {self._dd_log(base)})"

    def _print_PowM1ExactBase(self, expr):
        base, e = expr.args
        return f"{self._module_format('numpy.expm1')}({self._print(e)}*{self._dd_log(base)})"

    def _dd_log(self, b) -> str:
        """log(b) for a positive base, factor by factor (no quotient to underflow first)."""
        if isinstance(b, sp.Mul):
            parts = []
            for f in b.args:
                if isinstance(f, sp.Pow) and f.exp == -1:
                    parts.append(f"- {self._dd_log(f.base)}")
                elif f.is_number:
                    parts.append(f"+ {self._print(sp.log(sp.Abs(f)))}")
                else:
                    parts.append(f"+ {self._dd_log(f)}")
            text = " ".join(parts)
            return "(" + (text[2:] if text.startswith("+ ") else "-" + text[2:]) + ")"
        return f"_dd_logabs({self._double_double(b)})"

    def _double_double(self, b) -> str:
        """The base as a double-double (hi, lo) pair, built by the runtime's error-free operations."""
        if isinstance(b, sp.Abs):
            return f"_dd_abs({self._double_double(b.args[0])})"
        if isinstance(b, sp.Add):
            first, *rest = b.args
            out = self._double_double(first)
            for t in rest:
                out = f"_dd_add({out}, {self._double_double(t)})"
            return out
        if isinstance(b, sp.Mul):
            num = [f for f in b.args if not (isinstance(f, sp.Pow) and f.exp == -1)]
            den = [f.base for f in b.args if isinstance(f, sp.Pow) and f.exp == -1]
            out = None
            for f in num:
                if f == -1:
                    continue
                out = self._double_double(f) if out is None else f"_dd_mul({out}, {self._double_double(f)})"
            if out is None:
                out = "(1.0, 0.0)"
            if -1 in num:
                out = f"_dd_neg({out})"
            for f in den:
                out = f"_dd_div({out}, {self._double_double(f)})"
            return out
        return f"({self._print(b)}, 0.0)"

    def _print_Log1pPositive(self, expr):
        x = expr.args[0]
        log_x = sp.Add(*(_log_abs_factor(f) for f in sp.Mul.make_args(x)))  # x > 0: a sum of logs
        return f"_log1p_positive({self._print(x)}, lambda: {self._print(log_x)})"

    # Trigonometric functions of a difference of inputs: the difference as a double-double
    # (von Mises' cos(y - mu) at mu = 1e8: one rounding of y - mu moves the cosine by 1e-8).
    def _dd_argument(self, arg):
        if isinstance(arg, sp.Add) and len(arg.args) == 2 and all(
            isinstance(t, (sp.Symbol, sp.Indexed)) or (isinstance(t, sp.Mul) and len(t.args) == 2 and t.args[0] == -1)
            for t in arg.args
        ):
            return self._double_double(arg)
        return None

    def _print_cos(self, expr):
        dd = self._dd_argument(expr.args[0])
        return f"_dd_cos({dd})" if dd else f"{self._module_format('numpy.cos')}({self._print(expr.args[0])})"

    def _print_sin(self, expr):
        dd = self._dd_argument(expr.args[0])
        return f"_dd_sin({dd})" if dd else f"{self._module_format('numpy.sin')}({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr):
        # np.select evaluates every branch on every element: beta/(mu - y) is computed where
        # mu == y too, though the 0 branch is taken there. Its divide-by-zero is not the result's,
        # so the branches are evaluated with those warnings off (_branches, in the runtime).
        select = super()._print_Piecewise(expr)
        return f"_branches(lambda: {select})" if self.short_module == "np" else select

    def _print_Max(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"{self._module_format('numpy.maximum')}({out}, {self._print(a)})"
        return out

    _print_Min = None  # type: ignore[assignment]

    def _print_Abs(self, expr):
        return f"{self._module_format('numpy.abs')}({self._print(expr.args[0])})"

    # --- log-gamma family (log y!, log C(n, y), log Gamma, log B) ----------
    def _print_log(self, expr):
        if expr.args[0].has(*GAMMA_FAMILY):
            # Parenthesised: the caller sees a function call, so it will not add any.
            return f"({self._print(log_gamma_form(expr.args[0]))})"
        return super()._print_log(expr)

    def _print_XLogY(self, expr):
        x, arg = expr.args
        if arg.has(*GAMMA_FAMILY):  # a positive normaliser: no 0 log 0 to guard against
            return f"({self._print(x * log_gamma_form(arg))})"
        return f"_xlogy({self._print(x)}, {self._print(arg)})"

    # --- the von Mises normaliser, in its plain form (the stability rewrites
    # in rewrite/rules.py may turn log I_0 into a stable function first) -----
    def _print_besseli(self, expr):
        order, x = expr.args
        if order != 0:
            # other orders compile through LogBesselI (rewrite/rules.py), which NumPy's runtime has
            raise NotSupportedError(f"only the order-0 modified Bessel function compiles here; got {expr}")
        return f"{self._module_format('numpy.i0')}({self._print(x)})"


def _helper_printer(function: str):
    def print_helper(self, expr):
        return self._helper_call(function, expr.args)

    print_helper.__name__ = f"_print_{function}"
    return print_helper


for _function in SymlikNumPyPrinter.helpers:
    setattr(SymlikNumPyPrinter, f"_print_{_function}", _helper_printer(_function))


def _log_abs_factor(f):
    """log|f| for one factor of a positive product: n log|b| for a power b^n."""
    if isinstance(f, sp.Pow):
        base = f.base if f.base.is_positive else sp.Abs(f.base)
        return f.exp * sp.log(base)
    return sp.log(f if f.is_positive else sp.Abs(f))


GAMMA_FAMILY = (sp.factorial, sp.gamma, sp.binomial, sp.beta)


def log_gamma_form(arg: sp.Expr) -> sp.Expr:
    """log(arg) for a product or quotient of factorials, gammas, binomial coefficients
    and beta functions, as a sum of loggamma terms.

    Gamma(171) overflows a float64 while its log (706.6) does not, so a kernel
    never forms the function itself: log y! = loggamma(y + 1) and
    log C(n, y) = loggamma(n + 1) - loggamma(y + 1) - loggamma(n - y + 1).
    """

    def lg(x):
        # Unevaluated: SymPy turns loggamma of a positive integer back into log(gamma(.)).
        return sp.loggamma(x, evaluate=False)

    def one(e):
        if isinstance(e, sp.factorial):
            return lg(e.args[0] + 1)
        if isinstance(e, sp.gamma):
            return lg(e.args[0])
        if isinstance(e, sp.binomial):
            n, k = e.args
            return lg(n + 1) - lg(k + 1) - lg(n - k + 1)
        a, b = e.args  # beta
        return lg(a) + lg(b) - lg(a + b)

    expanded = sp.expand_log(sp.log(arg), force=True)
    out = expanded.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], GAMMA_FAMILY), lambda e: one(e.args[0])
    )
    if any(e.args[0].has(*GAMMA_FAMILY) for e in out.atoms(sp.log)):
        raise NotImplementedError(f"cannot write log({arg}) as a sum of log-gamma terms")
    return out


def gather_targets(expr: sp.Expr, y_base: sp.IndexedBase, k: sp.Symbol) -> sp.Expr:
    """Rewrite for class-index targets: Sum_k y_k A(x_k) -> A(x_y), Sum_k y_k -> 1.

    Valid because a one-hot y has exactly one y_k = 1. Raises when y enters
    non-linearly (then index targets would need a one-hot matrix).
    """

    def one(s: sp.Sum):
        if s.limits[0][0] != k:
            return s
        body = sp.expand(s.function)
        yk = y_base[k]
        if sp.diff(body, yk, 2) != 0:
            raise NotImplementedError("the target enters the loss non-linearly; pass one-hot targets")
        coeff = sp.diff(body, yk)
        rest = sp.simplify(body - coeff * yk)
        gathered = coeff.replace(
            lambda e: isinstance(e, sp.Indexed) and e.indices == (k,),
            lambda e: sp.Symbol(f"{e.base.label}{GATHER_SUFFIX}", real=True),
        )
        return gathered + (sp.Sum(rest, (k, *s.limits[0][1:])) if rest != 0 else 0)

    return expr.replace(lambda e: isinstance(e, sp.Sum), one)


# The runtime helpers that start from _shifted_and_rest (a softmax's row max and sums).
ROW_HELPERS = ("_neg_log_softmax(", "_scaled_softmax_minus(", "_logsumexp_minus(")


def share_rows(body: list[str]) -> list[str]:
    """A function body that calls the row helpers more than once, inside ``with _same_rows():``
    (``_numpy_runtime``): a softmax head's value and gradient then compute the row max and
    the sums of exponentials of one logits array once (a third of a 256 x 10 value and
    gradient). Other bodies are returned as they are."""
    text = "\n".join(body)
    if sum(text.count(h) for h in ROW_HELPERS) < 2:
        return body
    return ["with _same_rows():", *(f"    {line}" for line in body)]


def function_source(fname, expr, inputs, *, printer, event_size_from=None, gathers=(), pinned=(), shared_rows=False):
    """Python source of ``def fname(*inputs): return <expr>`` (elementwise per observation).
    ``pinned``: logits the value sees only through their softmax (symlik.compiler.shift), whose
    rows with +inf entries are pinned to their limit first. ``shared_rows``: the NumPy runtime's
    row helpers share their work (``share_rows``)."""
    body = printer.doprint(expr)
    lines = [f"{name} = _pin_infinite_rows({name})" for name in pinned]
    if event_size_from is not None and printer.event_size is not None and expr.has(printer.event_size):
        lines.append(f"{printer.event_size} = {event_size_from}.shape[-1]")
    for name in sorted(printer.used_event_arrays):
        lines.append(f"{name}_e = _event({name})")
    for name in gathers:
        if f"{name}{GATHER_SUFFIX}" in body:
            lines.append(f"{name}{GATHER_SUFFIX} = _gather({name}, y)")
    lines.append(f"return {body}")
    body_lines = share_rows(lines) if shared_rows else lines
    return "\n".join([f"def {fname}({', '.join(inputs)}):", *(f"    {line}" for line in body_lines)]) + "\n"


def stacked_source(fname, entries, shape, inputs, *, printer):
    """Python source of ``def fname(*inputs)`` returning ``[..., *shape]``: each entry (row by
    row) broadcast to the inputs' shape by the runtime's ``_stack``."""
    values = ", ".join(printer.doprint(e) for e in entries) + ("," if len(entries) == 1 else "")
    names = ", ".join(inputs)
    return f"def {fname}({names}):\n    return _stack(({values}), {tuple(shape)!r}, {names})\n"


def generate(plan, printer_class=SymlikNumPyPrinter) -> str:
    """The NumPy backend's source for ``plan``: ``dense`` (and ``index`` for class-index
    targets). The torch and JAX printers reuse it with their own printer class."""

    def printer():
        return printer_class(event_index=plan.event_index, event_size=plan.event_size, scalar_arrays=plan.scalar_arrays)

    if plan.broadcast:  # a vector, a matrix, or a number that must be one per observation
        return stacked_source("dense", plan.entries, plan.shape, plan.args, printer=printer())
    shared_rows = printer_class is SymlikNumPyPrinter  # (the helper is the NumPy runtime's)
    source = function_source("dense", plan.dense, plan.args, printer=printer(), event_size_from=plan.first_event,
                             pinned=plan.softmax_inputs, shared_rows=shared_rows)
    if plan.index is not None:
        source += "\n\n" + function_source(
            "index", plan.index, plan.args, printer=printer(), event_size_from=plan.first_event,
            gathers=[n for n in plan.event_inputs if n != "y"], shared_rows=shared_rows,
        )
    return source


__all__ = ["SymlikNumPyPrinter", "gather_targets", "function_source", "stacked_source", "generate", "LogSumExp", "Sigmoid", "Softplus", "XLogY", "XLog1PY"]
