"""Special functions that name the stable forms.

The derivation keeps them readable (each prints as its exact formula in
LaTeX) while each backend prints its stable implementation. They rewrite
to elementary functions, which is how identities involving them are proven.
"""

from __future__ import annotations

import inspect
from functools import lru_cache

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

# The summation index inside logsumexp/softmax: one fixed symbol, so that two
# rewritten copies of the same logsumexp are the same expression and cancel.
EVENT_J = sp.Symbol("j", integer=True, positive=True)


class Sigmoid(sp.Function):
    """sigma(z) = 1 / (1 + e^{-z})."""

    nargs = 1

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_evalf(self, prec):  # a number at a numeric point (the matcher's screening evaluates it)
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0]) * (1 - Sigmoid(self.args[0]))

    def _latex(self, printer, exp=None):  # exp: SymPy's printer passes the power of sigma(z)^k here
        out = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return out if exp is None else r"%s^{%s}" % (out, exp)


class Softplus(sp.Function):
    """softplus(z) = log(1 + e^{z}), printed as that formula."""

    nargs = 1

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    _eval_rewrite_as_log = _eval_rewrite_as_exp

    def _eval_evalf(self, prec):  # a number at a numeric point (the matcher's screening evaluates it)
        return self.rewrite(sp.exp)._eval_evalf(prec)

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

    def fdiff(self, argindex=1):
        x, yv = self.args
        # d/dy (x log y) = x / y, keeping 0/0 = 0 where x = 0 (the limit the convention implies).
        return sp.log(yv) if argindex == 1 else XDivY(x, yv)

    def _latex(self, printer):
        x, yv = self.args
        return r"%s \log{\left(%s \right)}" % (
            printer.parenthesize(x, sp.printing.precedence.PRECEDENCE["Mul"]),
            printer._print(yv),
        )


class LossSymbol(sp.Function):
    """A named loss applied to data, for display only: MSE(y, mu)."""

    def __reduce_ex__(self, protocol):
        # loss_symbol makes a class per name, where pickle cannot find it: it pickles as the call.
        return loss_symbol, (type(self).__name__, *self.args)

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
        return "argmin over %s of %s" % (", ".join(printer._print(o) for o in over), printer._print(body))

    def _pretty(self, printer):
        # Plain words, not LaTeX's argmin_{...}: "argmin over mu of MSE(y, mu)".
        from sympy.printing.pretty.stringpict import prettyForm

        body, *over = self.args
        words = prettyForm("argmin over ")
        for i, o in enumerate(over):
            words = prettyForm(*words.right(", " if i else "", printer._print(o)))
        return prettyForm(*words.right(" of ", printer._print(body)))


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

    def fdiff(self, argindex=1):
        x, yv = self.args
        return sp.log(1 + yv) if argindex == 1 else XDivY(x, 1 + yv)

    def _latex(self, printer):
        x, yv = self.args
        return r"%s \log{\left(%s \right)}" % (
            printer.parenthesize(x, sp.printing.precedence.PRECEDENCE["Mul"]),
            printer._print(1 + yv),
        )


# --- Stable forms introduced by the rewrites (symlik/rewrite/rules.py) and by the
# symbolic gradient. Each names one exact formula (its rewrite) and is printed by
# the backends as a stable implementation; its derivative is again a stable form.


class XDivY(sp.Function):
    """x / y with 0 / 0 = 0: the derivative of x log y in y, where x = 0 costs nothing."""

    nargs = 2

    def _eval_rewrite_as_exact(self, x, yv, **kwargs):
        return x / yv

    def _eval_rewrite_as_basic(self, x, yv, **kwargs):
        return x / yv

    def fdiff(self, argindex=1):
        # Second derivatives (Hessians) keep the convention: 0 where x = 0, as x / y itself is.
        x, yv = self.args
        return XDivY(1, yv) if argindex == 1 else -XDivY(x, yv**2)

    def _latex(self, printer):
        return r"\frac{%s}{%s}" % (printer._print(self.args[0]), printer._print(self.args[1]))


class Softmax(sp.Function):
    """softmax(z)_k = e^{z_k} / sum_j e^{z_j}: Softmax(z_base, K, k), the k-th component."""

    nargs = 3

    def _eval_rewrite_as_exact(self, zbase, K, k, **kwargs):
        return sp.exp(zbase[k]) / sp.Sum(sp.exp(zbase[EVENT_J]), (EVENT_J, 1, K))

    def _eval_rewrite_as_basic(self, zbase, K, k, **kwargs):
        return self._eval_rewrite_as_exact(zbase, K, k)

    def _eval_is_positive(self):
        return True

    def _latex(self, printer):
        z, K, k = self.args
        return r"\operatorname{softmax}\left(%s\right)_{%s}" % (printer._print(getattr(z, "label", z)), printer._print(k))

    def _sympystr(self, printer):
        z, K, k = self.args
        return "softmax(%s)[%s]" % (printer._print(getattr(z, "label", z)), printer._print(k))


class LogGamma(sp.Function):
    """log Gamma(x), never evaluated (SymPy's loggamma turns into log(gamma(n)) at integers)."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.gamma(x))

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.loggamma(x)

    def _eval_evalf(self, prec):
        return sp.loggamma(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return True if self.args[0].is_positive else None

    def fdiff(self, argindex=1):
        return sp.polygamma(0, self.args[0])

    def _latex(self, printer):
        return r"\log \Gamma\left(%s\right)" % printer._print(self.args[0])


class XMul(sp.Function):
    """x v with 0 v = 0 for every v, infinite included: a term whose weight (a target, a
    probability) is exactly 0 contributes nothing, the limit of the weighted term, where the
    plain product 0 * inf is nan (a logit of -inf in a class the target gives weight 0)."""

    nargs = 2

    def _eval_rewrite_as_exact(self, x, v, **kwargs):
        return x * v

    def _eval_rewrite_as_basic(self, x, v, **kwargs):
        return sp.Piecewise((sp.S.Zero, sp.Eq(x, 0)), (x * v, True))

    def fdiff(self, argindex=1):
        x, v = self.args
        return v if argindex == 1 else x

    def _latex(self, printer):
        x, v = self.args
        prec = sp.printing.precedence.PRECEDENCE["Mul"]
        return r"%s %s" % (printer.parenthesize(x, prec), printer.parenthesize(v, prec))


class XExp(sp.Function):
    """XExp(u, x1, x2, ...) = x1 x2 ... e^u, finite wherever the product is: e^u may
    overflow (and x1 x2 underflow) while the whole product does not."""

    def _eval_rewrite_as_exact(self, u, *factors, **kwargs):
        return sp.Mul(*factors) * sp.exp(u)

    def _eval_rewrite_as_basic(self, u, *factors, **kwargs):
        # A factor of exactly 0 makes the product 0, where 0 * e^1000 is nan (a zero-inflated
        # model's pi e^rate at pi = 0): the NumPy runtime's _x_exp does the same
        product = sp.Mul(*factors) * sp.exp(u)
        maybe_zero = [f for f in factors if not f.is_nonzero]
        if not maybe_zero:
            return product
        return sp.Piecewise((sp.S.Zero, sp.Or(*(sp.Eq(f, 0) for f in maybe_zero))), (product, True))

    def fdiff(self, argindex=1):
        u, *factors = self.args
        if argindex == 1:
            return self
        rest = factors[: argindex - 2] + factors[argindex - 1 :]
        return XExp(u, *rest) if rest else sp.exp(u)

    def _latex(self, printer):
        u, *factors = self.args
        x = sp.Mul(*factors)
        return r"%s e^{%s}" % (printer.parenthesize(x, sp.printing.precedence.PRECEDENCE["Mul"]), printer._print(u))


class PowExactBase(sp.Function):
    """base ** e, evaluated with the base carried to twice the working precision.

    A large exponent multiplies the rounding error of its base: (1 + 1e-8)^1e8 read
    from mu - y with one rounding is off by 1e-8 in float64 and by 170% in float32.
    The backends evaluate a base made of differences, quotients and absolute values
    of the inputs exactly (as a double-double), then raise it to the power."""

    nargs = 2

    def _eval_rewrite_as_exact(self, base, e, **kwargs):
        return base**e

    def _eval_rewrite_as_basic(self, base, e, **kwargs):
        return base**e

    def _eval_is_real(self):
        return self.args[0].is_nonnegative

    def fdiff(self, argindex=1):
        base, e = self.args
        if argindex == 1:
            return e * PowExactBase(base, e - 1)
        return self * sp.log(base)

    def _latex(self, printer):
        return printer._print(sp.Pow(*self.args, evaluate=False))


class PowM1ExactBase(sp.Function):
    """base ** e - 1 for a base carried as a double-double: expm1(e log(base)), which keeps
    the digits that 1 - (y/lam)^k loses when k = 1e-8 (Weibull's gradient)."""

    nargs = 2

    def _eval_rewrite_as_exact(self, base, e, **kwargs):
        return base**e - 1

    def _eval_rewrite_as_basic(self, base, e, **kwargs):
        return expm1(e * sp.log(base))

    def fdiff(self, argindex=1):
        base, e = self.args
        if argindex == 1:
            return e * PowExactBase(base, e - 1)
        return PowExactBase(base, e) * sp.log(base)

    def _latex(self, printer):
        return r"\left(%s - 1\right)" % printer._print(sp.Pow(*self.args, evaluate=False))


class Log1pPositive(sp.Function):
    """log(1 + x) for a positive product x that may overflow (Student-t's r^2/(nu sigma^2)
    = 1e40 in float32): log1p(x) where x is finite, else softplus(log x), log x factor by factor."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(1 + x)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return log1p(x)

    def _eval_is_real(self):
        return True

    def fdiff(self, argindex=1):
        return 1 / (1 + self.args[0])

    def _latex(self, printer):
        return r"\log\left(1 + %s\right)" % printer._print(self.args[0])


class LogBeta(sp.Function):
    """log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b), without the cancellation."""

    nargs = 2

    def _eval_rewrite_as_exact(self, a, b, **kwargs):
        return sp.log(sp.beta(a, b))

    def _eval_rewrite_as_basic(self, a, b, **kwargs):
        return sp.loggamma(a) + sp.loggamma(b) - sp.loggamma(a + b)

    def _eval_rewrite_as_loggamma(self, a, b, **kwargs):
        return LogGamma(a) + LogGamma(b) - LogGamma(a + b)

    def _eval_is_real(self):
        return True if (self.args[0].is_positive and self.args[1].is_positive) else None

    def fdiff(self, argindex=1):
        a, b = self.args
        # psi(a) - psi(a + b), as one function: the two digammas cancel when b << a.
        return -DigammaDiff(a, b) if argindex == 1 else -DigammaDiff(b, a)

    def _latex(self, printer):
        return r"\log \mathrm{B}\left(%s, %s\right)" % (printer._print(self.args[0]), printer._print(self.args[1]))


class LogBinomial(sp.Function):
    """log C(n, k) = -log(n + 1) - log B(n - k + 1, k + 1), exactly 0 at k = 0 and k = n."""

    nargs = 2

    def _eval_rewrite_as_exact(self, n, k, **kwargs):
        return sp.log(sp.binomial(n, k))

    def _eval_rewrite_as_basic(self, n, k, **kwargs):
        return sp.loggamma(n + 1) - sp.loggamma(k + 1) - sp.loggamma(n - k + 1)

    def _eval_is_real(self):
        return True

    def fdiff(self, argindex=1):
        n, k = self.args
        if argindex == 1:  # psi(n + 1) - psi(n - k + 1)
            return DigammaDiff(n - k + 1, k)
        return DigammaDiff(k + 1, n - 2 * k)  # psi(n - k + 1) - psi(k + 1)

    def _latex(self, printer):
        return r"\log \binom{%s}{%s}" % (printer._print(self.args[0]), printer._print(self.args[1]))


class LogGammaDiff(sp.Function):
    """log Gamma(x + m) - log Gamma(x) (the log of the rising factorial (x)_m), computed
    without the cancellation of two large log-gammas."""

    nargs = 2

    def _eval_rewrite_as_exact(self, x, m, **kwargs):
        return sp.log(sp.gamma(x + m)) - sp.log(sp.gamma(x))

    def _eval_rewrite_as_basic(self, x, m, **kwargs):
        return sp.loggamma(x + m) - sp.loggamma(x)

    def _eval_is_real(self):
        return True

    def fdiff(self, argindex=1):
        x, m = self.args
        if argindex == 1:
            return DigammaDiff(x, m)
        return sp.polygamma(0, x + m)

    def _latex(self, printer):
        x, m = self.args
        return r"\log \frac{\Gamma\left(%s\right)}{\Gamma\left(%s\right)}" % (printer._print(x + m), printer._print(x))


class DigammaDiff(sp.Function):
    """psi(x + h) - psi(x), computed without the cancellation of two nearby digammas."""

    nargs = 2

    def _eval_rewrite_as_exact(self, x, h, **kwargs):
        return sp.polygamma(0, x + h) - sp.polygamma(0, x)

    def _eval_rewrite_as_basic(self, x, h, **kwargs):
        return sp.polygamma(0, x + h) - sp.polygamma(0, x)

    def fdiff(self, argindex=1):
        # A second derivative of a log-beta (beta regression's Hessian): trigammas, which SymPy
        # evaluates and every backend with polygamma computes.
        x, h = self.args
        if argindex == 1:
            return sp.polygamma(1, x + h) - sp.polygamma(1, x)
        return sp.polygamma(1, x + h)

    def _eval_is_real(self):
        return True

    def _latex(self, printer):
        x, h = self.args
        return r"\left(\psi\left(%s\right) - \psi\left(%s\right)\right)" % (printer._print(x + h), printer._print(x))


class LogCosh(sp.Function):
    """log cosh(x) = |x| + log(1 + e^{-2|x|}) - log 2, which never overflows."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.cosh(x))

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.Abs(x) + Softplus(-2 * sp.Abs(x)) - sp.log(2)

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        return sp.tanh(self.args[0])

    def _latex(self, printer):
        return r"\log\cosh\left(%s\right)" % printer._print(self.args[0])


class LogBesselI0(sp.Function):
    """log I_0(x) = log(i0e(x)) + |x|: the exponentially scaled Bessel function does not overflow."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.besseli(0, x))

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.log(sp.besseli(0, x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        return BesselI1I0Ratio(self.args[0])

    def _latex(self, printer):
        return r"\log I_{0}\left(%s\right)" % printer._print(self.args[0])


class LogBesselI0e(sp.Function):
    """log(e^{-|x|} I_0(x)) = log I_0(x) - |x|: the exponentially scaled Bessel function's log."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.besseli(0, x)) - sp.Abs(x)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.log(sp.besseli(0, x)) - sp.Abs(x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        # I1/I0 - sign(x) as one function: at x = 1e8 the ratio is 1 - 5e-9, and its rounding
        # (1e-16) left 8 digits of the von Mises gradient in kappa, 1 - cos(y - mu) beside it
        return BesselRatioDeficit(self.args[0])

    def _latex(self, printer):
        x = printer._print(self.args[0])
        return r"\left(\log I_{0}\left(%s\right) - \left|%s\right|\right)" % (x, x)


class BesselI1I0Ratio(sp.Function):
    """I_1(x) / I_0(x) = i1e(x) / i0e(x): the ratio of scaled functions, finite for every x."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.besseli(1, x) / sp.besseli(0, x)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.besseli(1, x) / sp.besseli(0, x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer):
        x = printer._print(self.args[0])
        return r"\frac{I_{1}\left(%s\right)}{I_{0}\left(%s\right)}" % (x, x)


class BesselRatioDeficit(sp.Function):
    """I_1(x)/I_0(x) - sign(x): how far the ratio falls short of its limit, about -1/(2x) for a
    large x. Computed from its asymptotic series (Riccati's r' = 1 - r/x - r^2 term by term) where
    |x| >= 30, and as i1e/i0e - 1 below, where the ratio is not yet near 1."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.besseli(1, x) / sp.besseli(0, x) - sp.sign(x)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return BesselI1I0Ratio(x) - sp.sign(x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        x = self.args[0]
        ratio = BesselI1I0Ratio(x)
        return 1 - ratio / x - ratio**2  # (I1/I0)' by I0' = I1 and I1' = I0 - I1/x

    def _latex(self, printer):
        x = printer._print(self.args[0])
        return r"\left(\frac{I_{1}\left(%s\right)}{I_{0}\left(%s\right)} - \operatorname{sign}\left(%s\right)\right)" % (x, x, x)


class LogBesselI(sp.Function):
    """log I_nu(x) for x > 0 and any order nu: log(ive(nu, x)) + x, the scaled function
    keeping I_nu finite past x = 713 (the von Mises-Fisher normaliser on the sphere S^(D-1))."""

    nargs = 2

    def _eval_rewrite_as_exact(self, nu, x, **kwargs):
        return sp.log(sp.besseli(nu, x))

    def _eval_rewrite_as_basic(self, nu, x, **kwargs):
        return sp.log(sp.besseli(nu, x))

    def _eval_is_real(self):
        return self.args[1].is_positive

    def fdiff(self, argindex=2):
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        nu, x = self.args
        # I_nu'(x) = I_(nu+1)(x) + (nu / x) I_nu(x) (DLMF 10.29.2)
        return BesselIRatio(nu, x) + nu / x

    def _latex(self, printer):
        nu, x = (printer._print(a) for a in self.args)
        return r"\log I_{%s}\left(%s\right)" % (nu, x)


class LogBesselIOverPower(sp.Function):
    """log(I_nu(x) / x^nu) for x > 0: the von Mises-Fisher normaliser's kappa-dependent part in one
    function. Near x = 0 both logs are about nu log x (28 at x = 1e-8, nu = 3/2) and cancel; the
    ascending series gives -nu log 2 - log Gamma(nu + 1) + log1p(...) without them, and the
    derivative is I_(nu+1)(x) / I_nu(x) (DLMF 10.29.4) with no nu/x to cancel either."""

    nargs = 2

    def _eval_rewrite_as_exact(self, nu, x, **kwargs):
        return sp.log(sp.besseli(nu, x)) - nu * sp.log(x)

    def _eval_rewrite_as_basic(self, nu, x, **kwargs):
        return sp.log(sp.besseli(nu, x)) - nu * sp.log(x)

    def _eval_is_real(self):
        return self.args[1].is_positive

    def fdiff(self, argindex=2):
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        return BesselIRatio(*self.args)

    def _latex(self, printer):
        nu, x = (printer._print(a) for a in self.args)
        return r"\log\frac{I_{%s}\left(%s\right)}{%s^{%s}}" % (nu, x, x, nu)


class BesselIRatio(sp.Function):
    """I_(nu+1)(x) / I_nu(x) for x > 0: a ratio of scaled functions (or its continued fraction
    where they underflow), finite for every x."""

    nargs = 2

    def _eval_rewrite_as_exact(self, nu, x, **kwargs):
        return sp.besseli(nu + 1, x) / sp.besseli(nu, x)

    def _eval_rewrite_as_basic(self, nu, x, **kwargs):
        return sp.besseli(nu + 1, x) / sp.besseli(nu, x)

    def _eval_is_real(self):
        return self.args[1].is_positive

    def _latex(self, printer):
        nu, x = self.args
        top, bottom = printer._print(nu + 1), printer._print(nu)
        x = printer._print(x)
        return r"\frac{I_{%s}\left(%s\right)}{I_{%s}\left(%s\right)}" % (top, x, bottom, x)


# --- log Phi, log erfc, log(1 - e^x), log(e^x - 1): the logs of the normal tails and of
# exponentials near 1. A user density written with erf, erfc or a normal CDF reaches the
# kernel through these (rewrite/rules.py recognises the forms); the exact formula loses
# every digit in a tail that the named function keeps.

_SQRT2 = sp.sqrt(2)


def _erfc_asymptotic_log(x, terms: int = 6):
    """log erfc(x) for x >= 25 (where erfc underflows near 26.5): -x^2 - log(x sqrt(pi))
    + log1p(sum_n (-1)^n (2n-1)!! / (2x^2)^n). The sixth term is below 2e-15 at x = 25."""
    series, term = sp.S.Zero, sp.S.One
    for n in range(1, terms + 1):
        term = -term * (2 * n - 1) / (2 * x**2)
        series += term
    return -(x**2) - sp.log(x) - sp.log(sp.sqrt(sp.pi)) + log1p(series)


class LogErfc(sp.Function):
    """log erfc(x), finite for every x: erfc underflows at x = 26.5, its log is about -x^2.
    erfc(-x) = 1 + erf(x) is never written 2 - erfc(x) (which is 0 once erfc(x) rounds to 2)."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.erfc(x))

    def _eval_rewrite_as_basic(self, x, **kwargs):
        # Three ranges, each without cancellation: log1p(-erf x) near 0 (the value is ~ -2x/sqrt(pi));
        # log(erfc x) while erfc is a normal number; the asymptotic series past x = 25.
        return sp.Piecewise(
            (log1p(-sp.erf(x)), sp.Abs(x) < sp.Rational(1, 2)),
            (sp.log(sp.erfc(x, evaluate=False)), x < 25),  # erfc(-u) kept: never 2 - erfc(u)
            (_erfc_asymptotic_log(x), True),
        )

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        # -2/sqrt(pi) e^{-x^2} / erfc(x) = -sqrt(2) phi(u)/Phi(u) at u = -sqrt(2) x: the ratio of two
        # numbers that underflow past x = 26.5, by the function that keeps it (about 2x there)
        return -_SQRT2 * InverseMills(-_SQRT2 * self.args[0])

    def _latex(self, printer):
        return r"\log \operatorname{erfc}\left(%s\right)" % printer._print(self.args[0])


class LogNdtr(sp.Function):
    """log Phi(x), the log of the standard normal CDF (scipy.special.log_ndtr), finite for every x:
    Phi(x) underflows at x = -38 while its log is about -x^2/2, and log Phi(x) for x > 8 is
    -Phi(-x), which log(Phi(x)) rounds to 0."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log((1 + sp.erf(x / _SQRT2)) / 2)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        # The upper tail as log1p(-Phi(-x)) (no log of a number next to 1); the lower as log erfc.
        return sp.Piecewise(
            (log1p(-sp.erfc(x / _SQRT2, evaluate=False) / 2), x > -1),
            (LogErfc(-x / _SQRT2) - sp.log(2), True),
        )

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_negative(self):
        return True if self.args[0].is_real else None

    def fdiff(self, argindex=1):
        # phi(x) / Phi(x), by its own function: e^{-x^2/2 - log Phi(x)} subtracts two numbers
        # of size x^2/2 to leave log(-x), and overflows to inf at x = -1e16
        return InverseMills(self.args[0])

    def _latex(self, printer):
        return r"\log \Phi\left(%s\right)" % printer._print(self.args[0])


def _mills_asymptotic(x, terms: int = 7):
    """phi(x)/Phi(x) for x <= -35: -x / (1 + sum_n (-1)^n (2n-1)!! / x^(2n)), the asymptotic
    series of Phi(x) x / phi(x) (Abramowitz and Stegun 26.2.12); its eighth term is below
    4e-17 at x = -35."""
    series, term = sp.S.Zero, sp.S.One
    for n in range(1, terms + 1):
        term = -term * (2 * n - 1) / x**2
        series += term
    return -x / (1 + series)


class InverseMills(sp.Function):
    """phi(x) / Phi(x), the inverse Mills ratio and the derivative of log Phi, finite for every x:
    phi and Phi both underflow below x = -38 while the ratio is about -x. Libraries compute it as
    sqrt(2/pi) / erfcx(-x/sqrt 2), with the scaled erfcx(t) = e^{t^2} erfc(t)."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi) / ((1 + sp.erf(x / _SQRT2)) / 2)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        # Above -35 phi and Phi are normal numbers and their quotient loses only the rounding of
        # x^2/2 in the exponent (below 7e-14); below, the asymptotic series, which never underflows.
        return sp.Piecewise(
            (sp.sqrt(2 / sp.pi) * sp.exp(-(x**2) / 2) / sp.erfc(-x / _SQRT2, evaluate=False), x > -35),
            (_mills_asymptotic(x), True),
        )

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def fdiff(self, argindex=1):
        # d/dx phi/Phi = -x phi/Phi - (phi/Phi)^2
        m = InverseMills(self.args[0])
        return -m * (self.args[0] + m)

    def _latex(self, printer):
        x = printer._print(self.args[0])
        return r"\frac{\varphi\left(%s\right)}{\Phi\left(%s\right)}" % (x, x)


class Log1mExp(sp.Function):
    """log(1 - e^x) for x < 0: log(-expm1(x)) above -log 2, log1p(-e^x) below (Maechler, 2012)."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(1 - sp.exp(x))

    def _eval_rewrite_as_basic(self, x, **kwargs):
        # 1 - e^x cancels near x = 0 (expm1 keeps it); log(1 - e^x) loses e^x below 1e-16 (log1p keeps it).
        return sp.Piecewise((sp.log(-expm1(x)), x > -sp.log(2)), (log1p(-sp.exp(x)), True))

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return True if self.args[0].is_negative else None

    def fdiff(self, argindex=1):
        return -1 / expm1(-self.args[0])

    def _latex(self, printer):
        return r"\log\left(1 - e^{%s}\right)" % printer._print(self.args[0])


class XOverExpm1Neg(sp.Function):
    """x / (e^{-x} - 1), written x / expm1(-x), with its limits where that quotient is not a number:
    0 at x = -inf (x e^x -> 0; the quotient is -inf/inf) and -1 at x = 0 (0/0). It is the
    derivative of log(1 - e^x) times the x it is differentiated through: an interval-censored
    Weibull's gradient, where x = e^l - e^u is -inf once e^u overflows and the gradient is 0."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return x / (sp.exp(-x) - 1)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.Piecewise((sp.S.Zero, sp.Eq(x, -sp.oo)), (sp.S.NegativeOne, sp.Eq(x, 0)), (x / expm1(-x), True))

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def fdiff(self, argindex=1):
        # d/dx x / (e^-x - 1) = 1/expm1(-x) + x e^-x / expm1(-x)^2, written 1/expm1(-x) - r/expm1(x)
        # with r this function: each term has its limit 0 at x = -inf (the second form is inf * 0 there)
        x = self.args[0]
        return 1 / expm1(-x) - self / expm1(x)

    def _latex(self, printer):
        x = printer._print(self.args[0])
        return r"\frac{%s}{e^{-%s} - 1}" % (x, printer.parenthesize(self.args[0], sp.printing.precedence.PRECEDENCE["Mul"]))


class LogRatio(sp.Function):
    """log(a/b) for a >= 0, b > 0: the log of the rounded quotient, whose error is half an ulp of
    a/b, where log a - log b keeps the rounding of each log (1e-16 of log a); log a - log b
    only where a/b under- or overflows. Times a large k (the Weibull's k log(y/lambda) at
    k = 1e8) the difference of logs loses 2e-7, the quotient's log 1e-8 (and nothing at a = b)."""

    nargs = 2

    def _eval_rewrite_as_exact(self, a, b, **kwargs):
        return sp.log(a) - sp.log(b)

    def _eval_rewrite_as_basic(self, a, b, **kwargs):
        return sp.log(a) - sp.log(b)

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        a, b = self.args
        return True if a.is_positive and b.is_positive else None

    def fdiff(self, argindex=1):
        a, b = self.args
        return 1 / a if argindex == 1 else -1 / b

    def _latex(self, printer):
        return r"\log \frac{%s}{%s}" % (printer._print(self.args[0]), printer._print(self.args[1]))


class LogExpm1(sp.Function):
    """log(e^x - 1) for x > 0: log(expm1(x)) up to 1, x + log1p(-e^-x) above (e^x overflows at 709)."""

    nargs = 1

    def _eval_rewrite_as_exact(self, x, **kwargs):
        return sp.log(sp.exp(x) - 1)

    def _eval_rewrite_as_basic(self, x, **kwargs):
        return sp.Piecewise((sp.log(expm1(x)), x < 1), (x + log1p(-sp.exp(-x)), True))

    def _eval_evalf(self, prec):
        return self.rewrite("exact")._eval_evalf(prec)

    def _eval_is_real(self):
        return True if self.args[0].is_positive else None

    def fdiff(self, argindex=1):
        return -1 / expm1(-self.args[0])

    def _latex(self, printer):
        return r"\log\left(e^{%s} - 1\right)" % printer._print(self.args[0])


class NegLogPoisson(sp.Function):
    """-log Poisson(y; rate) = rate - y log rate + log Gamma(y + 1), computed as Loader's
    saddle-point form bd0(y, rate) + stirlerr(y) + log(2 pi y)/2: three non-negative terms,
    so nothing cancels where y = rate is large (the plain form subtracts terms of 1.3e7 to
    leave 7.8 at y = rate = 1e6)."""

    nargs = 2

    def _eval_rewrite_as_exact(self, y, rate, **kwargs):
        return rate - y * sp.log(rate) + sp.log(sp.gamma(y + 1))

    def _eval_rewrite_as_basic(self, y, rate, **kwargs):
        return rate - XLogY(y, rate) + LogGamma(y + 1)  # xlogy: a rate of 0 at y = 0 costs 0, not nan

    def _eval_is_real(self):
        y, rate = self.args
        return True if (y.is_nonnegative and rate.is_positive) else None

    def fdiff(self, argindex=1):
        y, rate = self.args
        if argindex == 1:
            return sp.polygamma(0, y + 1) - sp.log(rate)
        return 1 - y / rate

    def _latex(self, printer):
        y, rate = (printer._print(a) for a in self.args)
        return r"\left(%s - %s \log %s + \log \Gamma\left(%s + 1\right)\right)" % (rate, y, rate, y)


class NegLogPoissonLog(sp.Function):
    """-log Poisson(y; e^z) = e^z - y z + log Gamma(y + 1), with the network's log-rate z: the
    saddle-point form of NegLogPoisson where e^z is a normal number, and this formula where
    e^z underflows (z = -1000: nothing cancels there, and bd0(y, 0) would be infinite)."""

    nargs = 2

    def _eval_rewrite_as_exact(self, y, z, **kwargs):
        return sp.exp(z) - y * z + sp.log(sp.gamma(y + 1))

    def _eval_rewrite_as_basic(self, y, z, **kwargs):
        return sp.exp(z) - y * z + LogGamma(y + 1)

    def _eval_is_real(self):
        y, z = self.args
        return True if (y.is_nonnegative and z.is_real) else None

    def fdiff(self, argindex=1):
        y, z = self.args
        if argindex == 1:
            return sp.polygamma(0, y + 1) - z
        return sp.exp(z) - y

    def _latex(self, printer):
        y, z = (printer._print(a) for a in self.args)
        return r"\left(e^{%s} - %s %s + \log \Gamma\left(%s + 1\right)\right)" % (z, y, z, y)


class NegLogBinomial(sp.Function):
    """-log Binomial(y; n, p) = -log C(n, y) - y log p - (n - y) log(1 - p), computed as
    Loader's saddle-point form: bd0(y, np) + bd0(n - y, n(1 - p)) plus Stirling remainders.
    The plain form cancels terms of 3.5e6 to leave 7.6 at n = 1e7, y = np."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, n, p, **kwargs):
        return -sp.log(sp.binomial(n, y)) - y * sp.log(p) - (n - y) * sp.log(1 - p)

    def _eval_rewrite_as_basic(self, y, n, p, **kwargs):
        return XLog1PY(y - n, -p) + XLogY(-y, p) - LogBinomial(n, y)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None

    def fdiff(self, argindex=3):
        y, n, p = self.args
        if argindex == 1:
            return sp.polygamma(0, y + 1) - sp.polygamma(0, n - y + 1) - sp.log(p) + sp.log(1 - p)
        if argindex == 2:
            return sp.polygamma(0, n - y + 1) - sp.polygamma(0, n + 1) - sp.log(1 - p)
        return (n - y) / (1 - p) - y / p

    def _latex(self, printer):
        y, n, p = (printer._print(a) for a in self.args)
        return r"\left(-\log\binom{%s}{%s} - %s \log %s - (%s - %s) \log(1 - %s)\right)" % (n, y, y, p, n, y, p)


class NegLogBinomialLogit(sp.Function):
    """-log Binomial(y; n, sigmoid(z)) = n softplus(z) - y z - log C(n, y), by the same
    saddle-point form with n p = n sigmoid(z) and n (1 - p) = n sigmoid(-z)."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, n, z, **kwargs):
        return n * sp.log(1 + sp.exp(z)) - y * z - sp.log(sp.binomial(n, y))

    def _eval_rewrite_as_basic(self, y, n, z, **kwargs):
        # y softplus(-z) + (n - y) softplus(z), each weight exact at 0: n softplus(z) - y z is
        # inf - inf = nan at z = +inf, y = n, where the limit is 0
        return XMul(y, Softplus(-z)) + XMul(n - y, Softplus(z)) - LogBinomial(n, y)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None

    def fdiff(self, argindex=3):
        y, n, z = self.args
        if argindex == 1:
            return sp.polygamma(0, y + 1) - sp.polygamma(0, n - y + 1) - z
        if argindex == 2:
            return Softplus(z) + sp.polygamma(0, n - y + 1) - sp.polygamma(0, n + 1)
        # = n sigmoid(z) - y, without its cancellation where y = n and z is large (1 - 1e-13)
        return (n - y) * Sigmoid(z) - y * Sigmoid(-z)

    def _latex(self, printer):
        y, n, z = (printer._print(a) for a in self.args)
        return r"\left(%s \log(1 + e^{%s}) - %s %s - \log\binom{%s}{%s}\right)" % (n, z, y, z, n, y)


class NegLogNegBinomial(sp.Function):
    """-log NegBinomial(y; n, p) = log Gamma(n) + log y! - log Gamma(n + y) - n log p - y log(1 - p),
    as log(1 + y/n) - log Binomial(n; n + y, p) (the negative binomial is n/(n + y) times a binomial
    pmf), so that the binomial's saddle-point form applies: no cancellation at y = n(1 - p)/p."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, n, p, **kwargs):
        return (sp.log(sp.gamma(n)) + sp.log(sp.gamma(y + 1)) - sp.log(sp.gamma(n + y))
                - n * sp.log(p) - y * sp.log(1 - p))

    def _eval_rewrite_as_basic(self, y, n, p, **kwargs):
        return LogGamma(n) + LogGamma(y + 1) - LogGamma(n + y) + XLogY(-n, p) + XLog1PY(-y, -p)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None

    def fdiff(self, argindex=3):
        y, n, p = self.args
        if argindex == 1:
            return sp.polygamma(0, y + 1) - sp.polygamma(0, n + y) - sp.log(1 - p)
        if argindex == 2:
            # psi(n) - psi(n + y) as one function: at n = 1e-8 each is -1e8, and - log p beside them
            # kept 8 digits of its 0.69 (y = 0, where the difference is exactly 0)
            return -DigammaDiff(n, y) - sp.log(p)
        return y / (1 - p) - n / p

    def _latex(self, printer):
        return printer._print(self.rewrite("exact"))


class NegLogNegBinomialLogit(sp.Function):
    """-log NegBinomial(y; n, sigmoid(z)) = n softplus(-z) + y softplus(z) + log Gamma(n) + log y!
    - log Gamma(n + y), by the same binomial saddle-point form."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, n, z, **kwargs):
        return (n * sp.log(1 + sp.exp(-z)) + y * sp.log(1 + sp.exp(z)) + sp.log(sp.gamma(n))
                + sp.log(sp.gamma(y + 1)) - sp.log(sp.gamma(n + y)))

    def _eval_rewrite_as_basic(self, y, n, z, **kwargs):
        # n softplus(-z) + y softplus(z), y's weight exact at 0: (n + y) softplus(z) - n z is
        # inf - inf = nan at z = +inf, where the limit is 0 (y = 0) or inf
        return n * Softplus(-z) + XMul(y, Softplus(z)) + LogGamma(n) + LogGamma(y + 1) - LogGamma(n + y)

    def _eval_is_real(self):
        return True if all(a.is_real for a in self.args) else None

    def fdiff(self, argindex=3):
        y, n, z = self.args
        if argindex == 1:
            return Softplus(z) + sp.polygamma(0, y + 1) - sp.polygamma(0, n + y)
        if argindex == 2:
            return Softplus(-z) - DigammaDiff(n, y)  # softplus(z) - z, and psi(n) - psi(n + y) as one function
        # = (n + y) sigmoid(z) - n, without its cancellation where z is large (n e^-30 is lost)
        return y * Sigmoid(z) - n * Sigmoid(-z)

    def _latex(self, printer):
        return printer._print(self.rewrite("exact"))


def tweedie_log_series_mp(y, phi, p, dps: int = 40):
    """log a(y, phi) = log((1/y) sum_{j>=1} W_j), y > 0, in mpmath at ``dps`` digits, term by term.

    The Dunn-Smyth series of the Tweedie density for 1 < p < 2 in its exponential-dispersion form
    a(y, phi) exp((y theta - kappa) / phi): log W_j = j log z - log j! - log Gamma(alpha j),
    alpha = (2-p)/(p-1), z = y^alpha (p-1)^-alpha phi^-(1+alpha) / (2-p) (Dunn and Smyth 2005,
    eq. 4). The terms are log-concave in j: the sum walks out from the mode
    y^(2-p) / (phi (2-p)) until each side falls 100 nats below it.
    """
    import mpmath

    with mpmath.workdps(dps):
        y, phi, p = mpmath.mpf(y), mpmath.mpf(phi), mpmath.mpf(p)
        alpha = (2 - p) / (p - 1)
        log_z = alpha * mpmath.log(y) - alpha * mpmath.log(p - 1) - (1 + alpha) * mpmath.log(phi) - mpmath.log(2 - p)

        def log_w(j):
            return j * log_z - mpmath.loggamma(j + 1) - mpmath.loggamma(alpha * j)

        j_mode = y ** (2 - p) / (phi * (2 - p))
        start = max(1, int(mpmath.floor(j_mode)))
        top = log_w(start)
        total = mpmath.mpf(1)
        for direction in (1, -1):
            j = start + direction
            while j >= 1:
                term = log_w(j) - top
                total += mpmath.exp(term)
                if term < -100 and (direction < 0 or j > j_mode):
                    break
                j += direction
        return top + mpmath.log(total) - mpmath.log(y)


def tweedie_log_base_mp(y, phi, p, dps: int = 40):
    """log c_p(y, phi) in mpmath: 0 at y = 0; log a(y, phi) - y^(2-p) / ((p-1)(2-p) phi) above.

    The Tweedie density (1 < p < 2) is c_p(y, phi) exp(-d(y, mu) / (2 phi)) with d the unit
    deviance; c_p(0, phi) = 1 (the point mass), and the y-only part of the deviance moves
    a(y, phi) (``tweedie_log_series_mp``) to c_p.
    """
    import mpmath

    with mpmath.workdps(dps):
        y, phi, p = mpmath.mpf(y), mpmath.mpf(phi), mpmath.mpf(p)
        if y == 0:
            return mpmath.mpf(0)
        return tweedie_log_series_mp(y, phi, p, dps) - y ** (2 - p) / ((p - 1) * (2 - p) * phi)


class TweedieLogBase(sp.Function):
    """log c_p(y, phi): the part of the Tweedie log-density (1 < p < 2) free of the mean.

    0 at y = 0 (the point mass e^-lambda is all in the deviance term); for y > 0 the
    Dunn-Smyth series, which has no closed form: the NumPy runtime sums it in logs
    around its largest term (``_tweedie_log_base``), mpmath term by term
    (``tweedie_log_base_mp``, also the evalf and lambdify form). A backend without
    a routine for it says so (NotSupportedError).
    """

    nargs = 3

    def _eval_evalf(self, prec):
        if not all(a.is_number for a in self.args):
            return None
        return sp.Float(tweedie_log_base_mp(*(sp.Float(a, prec) for a in self.args), dps=prec // 3 + 10), prec)

    @staticmethod
    def _imp_(y, phi, p):
        """What lambdify calls: mpmath numbers for mpmath (the accuracy oracle), element by element
        for NumPy arrays (a test's closed form), never the kernels' routine."""
        import numpy as np

        if any(isinstance(a, np.ndarray) for a in (y, phi, p)):
            return np.vectorize(lambda *a: float(tweedie_log_base_mp(*a)), otypes=[float])(y, phi, p)
        return tweedie_log_base_mp(y, phi, p)

    def _eval_is_real(self):
        return True

    def _latex(self, printer):
        y, phi, p = (printer._print(a) for a in self.args)
        return r"\log c_{%s}\left(%s, %s\right)" % (p, y, phi)

    def _sympystr(self, printer):
        y, phi, p = (printer._print(a) for a in self.args)
        return "log c_%s(%s, %s)" % (p, y, phi)


class TweedieBase(sp.Function):
    """c_p(y, phi) = exp(TweedieLogBase(y, phi, p)), for the density as it is written (display)."""

    nargs = 3
    # An infinite series in y (Dunn and Smyth) that SymPy has no integration rule for: an
    # integral over y of it is not attempted (symlik.core.expectation), rather than timed out.
    no_closed_form_integral = True

    def _eval_evalf(self, prec):
        return sp.exp(TweedieLogBase(*self.args))._eval_evalf(prec)

    @staticmethod
    def _imp_(y, phi, p):
        import numpy as np

        log_c = TweedieLogBase._imp_(y, phi, p)
        return np.exp(log_c) if isinstance(log_c, np.ndarray) else log_c.context.exp(log_c)

    def _eval_is_positive(self):
        return True

    def _latex(self, printer):
        y, phi, p = (printer._print(a) for a in self.args)
        return r"c_{%s}\left(%s, %s\right)" % (p, y, phi)

    def _sympystr(self, printer):
        y, phi, p = (printer._print(a) for a in self.args)
        return "c_%s(%s, %s)" % (p, y, phi)


class DigammaMinusLog(sp.Function):
    """psi(k) - log k (about -1/(2k)), without the cancellation of psi(k) and log k at large k:
    the shape derivative of the gamma NLL at y = mu."""

    nargs = 1

    def _eval_rewrite_as_exact(self, k, **kwargs):
        return sp.polygamma(0, k) - sp.log(k)

    def _eval_rewrite_as_basic(self, k, **kwargs):
        return sp.polygamma(0, k) - sp.log(k)

    def _eval_is_real(self):
        return True if self.args[0].is_positive else None

    def fdiff(self, argindex=1):
        k = self.args[0]
        return sp.polygamma(1, k) - 1 / k

    def _latex(self, printer):
        k = printer._print(self.args[0])
        return r"\left(\psi\left(%s\right) - \log %s\right)" % (k, k)


class GammaDeviance(sp.Function):
    """y/mu - 1 - log(y/mu) >= 0 (half the gamma unit deviance), computed as r - log(1 + r) with
    r = (y - mu)/mu: near y = mu the plain form subtracts terms of size log mu to leave (r^2)/2."""

    nargs = 2

    def _eval_rewrite_as_exact(self, y, mu, **kwargs):
        return y / mu - 1 - sp.log(y) + sp.log(mu)

    def _eval_rewrite_as_basic(self, y, mu, **kwargs):
        return y / mu - 1 - sp.log(y) + sp.log(mu)

    def _eval_is_real(self):
        y, mu = self.args
        return True if (y.is_positive and mu.is_positive) else None

    def fdiff(self, argindex=1):
        y, mu = self.args
        if argindex == 1:
            return (y - mu) / (mu * y)
        return (mu - y) / mu**2

    def _latex(self, printer):
        y, mu = (printer._print(a) for a in self.args)
        return r"\left(\frac{%s}{%s} - 1 - \log \frac{%s}{%s}\right)" % (y, mu, y, mu)


class GammaDevianceLog(sp.Function):
    """y e^-z - 1 - log y + z, the gamma deviance with mu = e^z, as e^t - 1 - t with
    t = log y - z (a series near t = 0): no e^-z to overflow and no cancellation near y = e^z."""

    nargs = 2

    def _eval_rewrite_as_exact(self, y, z, **kwargs):
        return y * sp.exp(-z) - 1 - sp.log(y) + z

    def _eval_rewrite_as_basic(self, y, z, **kwargs):
        return XExp(-z, y) - 1 - sp.log(y) + z

    def _eval_is_real(self):
        y, z = self.args
        return True if (y.is_positive and z.is_real) else None

    def fdiff(self, argindex=1):
        y, z = self.args
        if argindex == 1:
            return sp.exp(-z) - 1 / y
        return 1 - XExp(-z, y)  # XExp: y e^-z stays finite where e^-z alone overflows

    def _latex(self, printer):
        y, z = (printer._print(a) for a in self.args)
        return r"\left(%s e^{-%s} - 1 - \log %s + %s\right)" % (y, z, y, z)


class NegLogGamma(sp.Function):
    """-log Gamma(y; shape k, mean mu) = k y/mu - k log(k/mu) - (k - 1) log y + log Gamma(k),
    computed as the deviance plus a Stirling term: k (y/mu - 1 - log(y/mu)) + stirlerr(k)
    - log(k/(2 pi))/2 + log y. The plain form cancels terms of 1.8e9 at k = 1e8, y = mu."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, mu, k, **kwargs):
        return k * y / mu - k * sp.log(k) + k * sp.log(mu) - (k - 1) * sp.log(y) + sp.log(sp.gamma(k))

    def _eval_rewrite_as_basic(self, y, mu, k, **kwargs):
        return k * y / mu - k * sp.log(k) + k * sp.log(mu) + XLogY(1 - k, y) + LogGamma(k)

    def _eval_is_real(self):
        return True if all(a.is_positive for a in self.args) else None

    def fdiff(self, argindex=1):
        y, mu, k = self.args
        if argindex == 1:  # k/mu - (k - 1)/y, with y - mu exact near y = mu
            return k * (y - mu) / (mu * y) + 1 / y
        if argindex == 2:
            return k * (mu - y) / mu**2
        return GammaDeviance(y, mu) + DigammaMinusLog(k)

    def _latex(self, printer):
        return printer._print(self.rewrite("exact"))


class NegLogGammaLog(sp.Function):
    """-log Gamma(y; shape k, mean e^z) = k y e^-z + k z - k log k - (k - 1) log y + log Gamma(k),
    by the same deviance-plus-Stirling form as NegLogGamma, with the deviance in t = log y - z."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, z, k, **kwargs):
        return k * y * sp.exp(-z) + k * z - k * sp.log(k) - (k - 1) * sp.log(y) + sp.log(sp.gamma(k))

    def _eval_rewrite_as_basic(self, y, z, k, **kwargs):
        return XExp(-z, y, k) + k * z - k * sp.log(k) + XLogY(1 - k, y) + LogGamma(k)

    def _eval_is_real(self):
        y, z, k = self.args
        return True if (y.is_positive and z.is_real and k.is_positive) else None

    def fdiff(self, argindex=1):
        y, z, k = self.args
        if argindex == 1:
            return k * sp.exp(-z) - (k - 1) / y
        if argindex == 2:
            return k - XExp(-z, y, k)  # not k expm1(log y - z): that overflows (float32) where k y e^-z does not
        return GammaDevianceLog(y, z) + DigammaMinusLog(k)

    def _latex(self, printer):
        return printer._print(self.rewrite("exact"))


class NegLogBeta(sp.Function):
    """-log Beta(y; a, b) = log B(a, b) - (a - 1) log y - (b - 1) log(1 - y), computed as the
    saddle-point form: with s = a + b,

        bd0(a, s y) + bd0(b, s (1 - y)) + log(s / (a b))/2 + log y + log(1 - y) + log(2 pi)/2
            + stirlerr(a) + stirlerr(b) - stirlerr(s),

    (log Gamma(x) = (x - 1/2) log x - x + log(2 pi)/2 + stirlerr(x), and a log(a/(s y)) +
    b log(b/(s (1 - y))) is bd0(a, s y) + bd0(b, s (1 - y)) since s y + s (1 - y) = a + b).
    Every term is small or of one sign where y is near the mean a/s; the plain form cancels
    log B = -1.4e8 against 6.9e7 twice to leave -9.3 at a = b = 1e8, y = 1/2 (relative error 2.6e-8)."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, a, b, **kwargs):
        return sp.log(sp.beta(a, b)) - (a - 1) * sp.log(y) - (b - 1) * sp.log(1 - y)

    def _eval_rewrite_as_basic(self, y, a, b, **kwargs):
        return LogBeta(a, b) + XLogY(1 - a, y) + XLog1PY(1 - b, -y)

    def _eval_is_real(self):
        y, a, b = self.args
        return True if (a.is_positive and b.is_positive and y.is_real) else None

    def fdiff(self, argindex=1):
        y, a, b = self.args
        if argindex == 1:
            return (1 - a) / y + (b - 1) / (1 - y)
        total = sp.expand(a + b)
        if sp.count_ops(total) >= sp.count_ops(a + b):
            # a + b rounds (b = 1e-8 vanishes beside a = 1e8): log B's own derivative psi(a) - psi(a + b),
            # one function that keeps b, and the log y term
            if argindex == 2:
                return -DigammaDiff(a, b) - sp.log(y)
            return -DigammaDiff(b, a) - sp.log(1 - y)
        # a + b is an input (mu phi + (1 - mu) phi = phi): psi(a) - psi(a + b) - log y written as
        # r(a) - r(a + b) + log(a / ((a + b) y)) with r = psi - log (DigammaMinusLog, about -1/(2x)) and
        # the log of one quotient, exactly 0 where a/(a + b) = y. The digammas of size log a never meet
        # log y, which they cancel to 1e-8 at a = b = 5e7, y = 1/2 (the gradient in phi).
        if argindex == 2:
            return DigammaMinusLog(a) - DigammaMinusLog(total) + LogRatio(a, total * y)
        return DigammaMinusLog(b) - DigammaMinusLog(total) + LogRatio(b, total * (1 - y))

    def _latex(self, printer):
        return printer._print(self.rewrite("exact"))


class NegLogBetaLogit(sp.Function):
    """-log Beta(y; phi sigmoid(z), phi sigmoid(-z)): the beta regression's NLL with its mean behind a
    logit link, by NegLogBeta's saddle-point form with a + b = phi exactly. Where a or b is below 1
    (sigmoid(z) underflows at z = -1000 though the NLL is about -z - log phi) it is the form
    log Gamma(a + 1) - log a + ..., with log a = log phi - softplus(-z) taken in logs."""

    nargs = 3

    def _eval_rewrite_as_exact(self, y, z, phi, **kwargs):
        a, b = phi / (1 + sp.exp(-z)), phi / (1 + sp.exp(z))
        return sp.log(sp.beta(a, b)) - (a - 1) * sp.log(y) - (b - 1) * sp.log(1 - y)

    def _eval_rewrite_as_basic(self, y, z, phi, **kwargs):
        a, b = phi * Sigmoid(z), phi * Sigmoid(-z)
        return (LogGamma(a + 1) + LogGamma(b + 1) - 2 * sp.log(phi) + Softplus(-z) + Softplus(z) - LogGamma(phi)
                + XLogY(1 - a, y) + XLog1PY(1 - b, -y))

    def _eval_is_real(self):
        y, z, phi = self.args
        return True if (phi.is_positive and z.is_real and y.is_real) else None

    def fdiff(self, argindex=1):
        # The derivatives of the basic form, whose digammas of a + 1 carry no 0 * inf where sigmoid(z)
        # underflows (the gradients in z and phi are those the logit kernels had before this function)
        dummies = (sp.Dummy("y", positive=True), sp.Dummy("z", real=True), sp.Dummy("phi", positive=True))
        slope = sp.diff(self._eval_rewrite_as_basic(*dummies), dummies[argindex - 1])
        return slope.xreplace(dict(zip(dummies, self.args)))

    def _latex(self, printer):
        y, z, phi = self.args
        a, b = phi * Sigmoid(z), phi * Sigmoid(-z)  # shown with sigma, as the link is everywhere else
        return printer._print(LogBeta(a, b) - (a - 1) * sp.log(y) - (b - 1) * sp.log(1 - y))


STABLE_FUNCTIONS = (Sigmoid, Softplus, LogSumExp, XLogY, XLog1PY)
REWRITE_FUNCTIONS = (XDivY, XMul, XExp, Log1pPositive, PowExactBase, PowM1ExactBase, Softmax, LogGamma, LogBeta, LogBinomial, LogGammaDiff, DigammaDiff, LogCosh, LogBesselI0, LogBesselI0e, BesselI1I0Ratio, BesselRatioDeficit, LogBesselI, LogBesselIOverPower, BesselIRatio, LogErfc, LogNdtr, InverseMills, Log1mExp, XOverExpm1Neg, LogExpm1, LogRatio, NegLogPoisson, NegLogPoissonLog, NegLogBinomial, NegLogBinomialLogit, NegLogNegBinomial, NegLogNegBinomialLogit, DigammaMinusLog, GammaDeviance, GammaDevianceLog, NegLogGamma, NegLogGammaLog, NegLogBeta, NegLogBetaLogit)


def exact(expr: sp.Expr) -> sp.Expr:
    """Rewrite every stable special function back to elementary functions
    (and to the standard special functions: log Gamma, Beta, Bessel I)."""
    def one(e):
        if isinstance(e, REWRITE_FUNCTIONS):
            return e.rewrite("exact")
        return e.rewrite(sp.log) if isinstance(e, (XLogY, XLog1PY)) else e.rewrite(sp.exp)

    expr = expr.replace(lambda e: isinstance(e, REWRITE_FUNCTIONS), one)
    return expr.replace(lambda e: isinstance(e, STABLE_FUNCTIONS), one)


def basic(expr: sp.Expr, keep: tuple = ()) -> sp.Expr:
    """Each stable function a backend has no routine for (every one in
    REWRITE_FUNCTIONS not in ``keep``), in terms of functions every backend
    prints: log-gamma, softplus, log1p, Bessel I. For the compiled backends
    other than NumPy, which then have the accuracy of these forms, not of the
    NumPy kernel's (docs/accuracy.md measures the NumPy kernels)."""
    from sympy.codegen.numpy_nodes import logaddexp
    from sympy.codegen.scipy_nodes import cosm1

    def lower(e):
        if isinstance(e, cosm1):  # cos x - 1 = -2 sin^2(x/2), without the cancellation
            return -2 * sp.sin(e.args[0] / 2) ** 2
        if isinstance(e, logaddexp):  # max + log(1 + e^-|a - b|)
            a, b = e.args
            return sp.Max(a, b) + Softplus(-sp.Abs(a - b))
        # this function only: SymPy's rewrite is deep by default, and would lower a kept function
        # inside it too (log Phi inside log(1 - e^x): the fused backend then inlined it, and torch,
        # which prints log Phi by its own log_ndtr, met an erfc it has no routine for)
        return e.rewrite("basic", deep=False)

    lowered = tuple(c for c in REWRITE_FUNCTIONS if c not in keep) + (cosm1, logaddexp)
    while expr.has(*lowered):
        expr = expr.replace(lambda e: isinstance(e, lowered), lower)
    return expr


def loss_symbol(name: str, *args) -> sp.Expr:
    """A display-only loss call whose LaTeX name is ``name``."""
    return _loss_symbol_class(name)(*args)


@lru_cache(maxsize=None)
def _loss_symbol_class(name: str) -> type:
    # one class per name, so that two calls of the same loss are the same expression
    return type(name, (LossSymbol,), {})


def accepts_latex_power(cls: type) -> type:
    """SymPy's LaTeX printer prints f(x)^k by calling ``f._latex(printer, exp=k)``; a
    ``_latex`` written without ``exp`` would raise TypeError there (XExp(...)^2 in a Hessian).
    Wrap it so the power is printed around the whole function."""
    inner = cls.__dict__.get("_latex")
    if inner is None or "exp" in inspect.signature(inner).parameters:
        return cls

    def _latex(self, printer, exp=None):
        out = inner(self, printer)
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)

    cls._latex = _latex
    return cls


def _evalf_by_exact(self, prec):
    return self.rewrite("exact")._eval_evalf(prec)


for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, sp.Basic) and _cls.__module__ == __name__:
        accepts_latex_power(_cls)
        # A number at a numeric point, through the exact form, wherever a class gives none: the
        # matcher's screening evaluates ratios at random points, and a condition that stays
        # unevaluated (Log1pPositive(0.34) < 0 in an interval-censored NLL) made it give up and
        # simplify instead, 20 s per template.
        if "_eval_rewrite_as_exact" in _cls.__dict__ and not any("_eval_evalf" in k.__dict__ for k in _cls.__mro__ if k.__module__ == __name__):
            _cls._eval_evalf = _evalf_by_exact
