"""Stability rewrites as data, in the style of ``sympy.codegen.rewriting``.

Each rule is one module-level object: a query (which subexpressions it
applies to) and a value (the stable replacement). Every rule is an exact
identity; ``tests/test_rewrite.py`` proves each one symbolically, checks its
structure, and checks its value at extreme input against mpmath. Rewrites run
between derivation and code generation: the derivation keeps the exact form,
the kernel gets this one. Where SymPy already has the rule (log1p, expm1,
logaddexp) it is reused, not rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp
from sympy.codegen.scipy_nodes import cosm1
from sympy.codegen.rewriting import FuncMinusOneOptim, ReplaceOptim
from sympy.codegen.rewriting import cosm1_opt as _sympy_cosm1_opt
from sympy.codegen.rewriting import expm1_opt as _sympy_expm1_opt
from sympy.codegen.rewriting import log1p_opt as _sympy_log1p_opt
from sympy.codegen.rewriting import logaddexp_opt as _sympy_logaddexp_opt

from symlik.derivation.gradient import tidy
from symlik.core.functions import (
    GammaDeviance,
    GammaDevianceLog,
    InverseMills,
    LogBesselI,
    LogBesselIOverPower,
    LogBesselI0,
    LogBesselI0e,
    LogBeta,
    LogBinomial,
    LogCosh,
    LogErfc,
    Log1mExp,
    LogExpm1,
    LogRatio,
    LogGamma,
    LogNdtr,
    LogGammaDiff,
    Log1pPositive,
    LogSumExp,
    NegLogBeta,
    NegLogBetaLogit,
    NegLogBinomial,
    NegLogBinomialLogit,
    NegLogGamma,
    NegLogGammaLog,
    NegLogNegBinomial,
    NegLogNegBinomialLogit,
    NegLogPoisson,
    NegLogPoissonLog,
    PowExactBase,
    PowM1ExactBase,
    Sigmoid,
    Softplus,
    XExp,
    XLog1PY,
    XMul,
    XLogY,
    XOverExpm1Neg,
    exact,
)


@dataclass(frozen=True)
class Rewrite:
    name: str
    query: Callable[[sp.Basic], bool]
    value: Callable[[sp.Basic], sp.Basic]
    why: str
    # Rules run in increasing priority (STABLE is sorted by it); a rule applied on its own needs none.
    priority: int = 1000

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return expr.replace(self.query, self.value)


# ---------------------------------------------------------------------------
# softplus, log-sigmoid, log(1 - sigmoid), logaddexp
# ---------------------------------------------------------------------------


def _scaled_piecewise(e) -> bool:
    """c * Piecewise(...) with c a number: the NLL of a log-density given by cases."""
    return (isinstance(e, sp.Mul) and len(e.args) == 2 and e.args[0].is_number
            and isinstance(e.args[1], sp.Piecewise))


piecewise_fold_opt = Rewrite(
    "piecewise_fold",
    _scaled_piecewise,
    sp.piecewise_fold,  # -Piecewise((a, c), (b, True)) -> Piecewise((-a, c), (-b, True))
    "the rules below recognise a Poisson or gamma NLL by its terms' signs; inside -(cases) each case holds the "
    "log-density, so a zero-inflated Poisson's count case never met the saddle-point rule (relative error 2.4e-8 "
    "at y = rate = 1e8)",
    priority=50,
)


def _one_plus_exp(arg):
    """u when arg is 1 + e^u, else None."""
    if isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args:
        other = next(t for t in arg.args if t != sp.S.One)
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


softplus_opt = Rewrite(
    "softplus",
    lambda e: isinstance(e, sp.log) and _one_plus_exp(e.args[0]) is not None,
    lambda e: Softplus(_one_plus_exp(e.args[0])),
    "log(1 + e^z) overflows for z > 709; softplus(z) = max(z, 0) + log1p(e^-|z|) does not",
    priority=100,
)


def _scaled_exp(arg):
    """(u, c) when arg is 1 + c e^u with c > 0 a product of positive factors (not 1), else None."""
    if not (isinstance(arg, sp.Add) and len(arg.args) == 2 and sp.S.One in arg.args):
        return None
    other = next(t for t in arg.args if t != sp.S.One)
    if not isinstance(other, sp.Mul):
        return None
    exps = [f for f in other.args if isinstance(f, sp.exp)]
    if len(exps) != 1:
        return None
    c = sp.Mul(*(f for f in other.args if f is not exps[0]))
    return (exps[0].args[0], c) if c.is_positive and c.free_symbols else None


softplus_scaled_opt = Rewrite(
    "softplus_scaled",
    lambda e: isinstance(e, sp.log) and _scaled_exp(e.args[0]) is not None,
    # log(1 + c e^u) = softplus(u + log c) for c > 0 (log c split over the factors of c)
    lambda e: (lambda u, c: Softplus(u + sp.expand_log(sp.log(c))))(*_scaled_exp(e.args[0])),
    "log(1 + e^z / n) overflows in e^z at z > 709 though it is about z - log n (the zero-inflated negative "
    "binomial's log(1 + mu/n) with a log link at log mu = -1000, n = 1e-8); softplus(z - log n) does not",
    priority=105,
)


def _log_sigmoid_arg(e):
    """z when e is log(sigmoid(z)) or log(1 / (1 + e^-z)), else None."""
    if not isinstance(e, sp.log):
        return None
    a = e.args[0]
    if isinstance(a, Sigmoid):
        return a.args[0]
    if isinstance(a, sp.Pow) and a.exp == -1 and _one_plus_exp(a.base) is not None:
        return -_one_plus_exp(a.base)
    return None


log_sigmoid_opt = Rewrite(
    "log_sigmoid",
    lambda e: _log_sigmoid_arg(e) is not None,
    lambda e: -Softplus(-_log_sigmoid_arg(e)),
    "log(sigmoid(z)) is log(0) = -inf once sigmoid underflows (z < -745); -softplus(-z) is -z there",
    priority=110,
)


def _log1m_sigmoid_arg(e):
    """z when e is log(1 - sigmoid(z)), else None."""
    if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Add):
        return None
    terms = e.args[0].args
    if len(terms) == 2 and sp.S.One in terms:
        other = next(t for t in terms if t != sp.S.One)
        if isinstance(other, sp.Mul) and other.args[0] == -1 and len(other.args) == 2 and isinstance(other.args[1], Sigmoid):
            return other.args[1].args[0]
    return None


log1m_sigmoid_opt = Rewrite(
    "log1m_sigmoid",
    lambda e: _log1m_sigmoid_arg(e) is not None,
    lambda e: -Softplus(_log1m_sigmoid_arg(e)),
    "1 - sigmoid(z) rounds to 0 for z > 37 and its log is -inf; -softplus(z) keeps every digit",
    priority=120,
)


def _is_one_minus_sigmoid(e) -> bool:
    return isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args and any(
        isinstance(t, sp.Mul) and len(t.args) == 2 and t.args[0] == -1 and isinstance(t.args[1], Sigmoid) for t in e.args
    )


def _sigmoid_of_minus(e):
    (term,) = [t for t in e.args if t != sp.S.One]
    return Sigmoid(-term.args[1].args[0])


one_minus_sigmoid_opt = Rewrite(
    "one_minus_sigmoid",
    _is_one_minus_sigmoid,
    _sigmoid_of_minus,
    "1 - sigmoid(z) = sigmoid(-z): for large z the left side rounds to 0, the right keeps e^-z "
    "(bernoulli's Fisher information sigmoid(z)(1 - sigmoid(z)) at z = 50)",
    # after log1m_sigmoid, which claims log(1 - sigmoid(z)) whole
    priority=125,
)


def _scaled_one_minus_sigmoid(e):
    """a sigmoid(-z) when e is a - a sigmoid(z) (a free of sigmoids), else None."""
    if not (isinstance(e, sp.Add) and len(e.args) == 2):
        return None
    for a, b in (e.args, e.args[::-1]):
        if a.has(Sigmoid):
            continue
        for s in b.atoms(Sigmoid):
            if sp.expand(b + a * s) == 0:
                return a * Sigmoid(-s.args[0])
    return None


scaled_one_minus_sigmoid_opt = Rewrite(
    "scaled_one_minus_sigmoid",
    lambda e: _scaled_one_minus_sigmoid(e) is not None,
    _scaled_one_minus_sigmoid,
    "phi - phi sigmoid(z) (the beta's b = (1 - mu) phi with mu = sigmoid(z)) keeps 8 digits at z = 17; "
    "phi sigmoid(-z) keeps all of them",
    priority=126,
)


def _sigmoid_minus_label(e):
    """z when e is sigmoid(z) - y (y the observed label), else None."""
    if not isinstance(e, sp.Add) or len(e.args) != 2:
        return None
    sig = [t for t in e.args if isinstance(t, Sigmoid)]
    label = [t for t in e.args if _is_negated_label(t)]
    return sig[0].args[0] if len(sig) == 1 and len(label) == 1 else None


def _is_negated_label(t) -> bool:
    if not (isinstance(t, sp.Mul) and t.args[0] == -1 and len(t.args) == 2):
        return False
    y = t.args[1]
    return (isinstance(y, sp.Symbol) and y.name == "y") or (isinstance(y, sp.Indexed) and str(y.base.label) == "y")


def _label_split_sigmoid(e):
    z = _sigmoid_minus_label(e)
    y = -next(t for t in e.args if _is_negated_label(t))
    return (1 - y) * Sigmoid(z) - y * Sigmoid(-z)


sigmoid_minus_label_opt = Rewrite(
    "sigmoid_minus_label",
    lambda e: _sigmoid_minus_label(e) is not None,
    _label_split_sigmoid,
    "sigmoid(z) - y = (1 - y) sigmoid(z) - y sigmoid(-z): at y = 1 and z = 50 the left side rounds "
    "to 0, the right keeps -e^-z (the logistic gradient; sklearn's HalfBinomialLoss does the same)",
    priority=127,
)


def _twice_sigmoid_minus_one(e):
    """(b, z) when e is b - 2 b sigmoid(z) (2 sigmoid(z) - 1 with b = -1), b free of sigmoid, or the
    same written c sigmoid(-z) - c sigmoid(z) (b = c; sigmoid(-z) = 1 - sigmoid(z)), else None."""
    if not isinstance(e, sp.Add) or len(e.args) != 2:
        return None
    pairs = []
    for t in e.args:
        sig = [f for f in sp.Mul.make_args(t) if isinstance(f, Sigmoid)]
        if len(sig) == 1 and not (t / sig[0]).has(Sigmoid):
            pairs.append((t / sig[0], sig[0].args[0]))
    if len(pairs) == 2:  # the log-logistic's exact-time gradient, sigmoid(-z) - sigmoid(z)
        (c1, u1), (c2, u2) = pairs
        if sp.expand(u1 + u2) == 0 and sp.expand(c1 + c2) == 0:
            return c2, u1
        return None
    for t, b in (e.args, e.args[::-1]):
        sig = [f for f in sp.Mul.make_args(t) if isinstance(f, Sigmoid)]
        if len(sig) == 1 and not b.has(Sigmoid):
            a = t / sig[0]
            if sp.expand(a + 2 * b) == 0:
                return b, sig[0].args[0]
    return None


twice_sigmoid_minus_one_opt = Rewrite(
    "twice_sigmoid_minus_one",
    lambda e: _twice_sigmoid_minus_one(e) is not None,
    lambda e: (lambda b, z: -b * sp.tanh(z / 2))(*_twice_sigmoid_minus_one(e)),
    "2 sigmoid(z) - 1 = tanh(z/2): at z = 1e-16 the left side is 1 - 1 = 0, the right keeps 5e-17 (the "
    "logistic distribution's gradient in its location, (y - mu)/s tiny)",
    priority=128,
)


def _is_logaddexp(e) -> bool:
    if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Add) or len(e.args[0].args) != 2:
        return False
    return all(isinstance(t, sp.exp) for t in e.args[0].args)


logaddexp_opt = Rewrite(
    "logaddexp",
    _is_logaddexp,
    lambda e: _sympy_logaddexp_opt(e),  # SymPy's rule: log(exp(v) + exp(w)) -> logaddexp(v, w)
    "log(e^a + e^b) overflows once either exponent passes 709; logaddexp subtracts the max first",
    priority=130,
)


def _complement_logs(a, b) -> bool:
    """e^a + e^b = 1: a and b are the logs of a probability and of its complement (log pi and
    log(1 - pi), or z - softplus(z) and -softplus(z) under a logit link). Proven by simplify."""
    if not (a.free_symbols and b.free_symbols):
        return False
    # e^a = 1 - e^b: a and b are functions of the same symbols. Checked first, as simplify takes
    # seconds on each pair of a mixture's component terms (w_k - log sigma_k - (y - mu_k)^2/(2 sigma_k^2))
    if a.free_symbols != b.free_symbols:
        return False
    total = (sp.exp(a) + sp.exp(b)).rewrite(sp.exp)  # Softplus(z) -> log(1 + e^z)
    return sp.simplify(total - 1) == 0


def _mixed_zero_parts(e):
    """(log(1 - pi), log p0) when e is logaddexp(log pi, log(1 - pi) + log p0): the log-probability of a
    zero under a zero-inflated model, pi + (1 - pi) p0. Else None."""
    if not isinstance(e, logaddexp) or len(e.args) != 2:
        return None
    for a, rest in (e.args, e.args[::-1]):
        terms = sp.Add.make_args(rest)
        for b in terms:
            log_p0 = rest - b
            if log_p0 != 0 and _complement_logs(a, b):
                return b, log_p0
    return None


def _mixed_zero(e):
    log_miss, log_p0 = _mixed_zero_parts(e)
    # 1 - P(0) = (1 - pi)(1 - p0), each factor without cancellation (expm1 keeps 1 - p0 for p0 near 1)
    miss = -sp.exp(log_miss) * expm1(log_p0)
    return sp.Piecewise((log1p(-miss), miss < sp.Rational(1, 2)), (e, True))


mixed_zero_opt = Rewrite(
    "mixed_zero",
    lambda e: _mixed_zero_parts(e) is not None,
    _mixed_zero,
    "log(pi + (1 - pi) p0) by logaddexp is log(1 - 1e-16) = -1.1e-16 at pi = 1 - 2^-53, p0 = 1 - 1e-434 "
    "(the zero-inflated negative binomial at log mu = -1000), where the truth is -1e-450: every digit wrong. "
    "Where P(0) > 1/2, log1p(-(1 - pi)(1 - p0)) with 1 - p0 = -expm1(log p0) has none of the cancellation",
    priority=135,
)


# ---------------------------------------------------------------------------
# log Phi and log erfc (the normal tails), log(1 - e^x) and log(e^x - 1)
# ---------------------------------------------------------------------------


def _split_log_factor(e, recognise):
    """(other factors, stable log of the one recognised factor) when e is log(A) and exactly one
    factor of A (after factor_terms) is recognised, else None. log(a b) = log a + log b holds
    here because the recognised factor is positive and so is A (the argument of a log-density)."""
    if not isinstance(e, sp.log) or not e.args[0].free_symbols:
        return None
    arg = e.args[0]
    for candidate in (arg, sp.factor_terms(arg)):
        factors = sp.Mul.make_args(candidate)
        found = [(f, recognise(f)) for f in factors]
        found = [(f, out) for f, out in found if out is not None]
        if len(found) == 1:
            f, out = found[0]
            rest = sp.Mul(*(g for g in factors if g is not f))
            return rest, out
    return None


def _stable_log(e, recognise):
    rest, out = _split_log_factor(e, recognise)
    return out if rest == 1 else sp.log(rest) + out


def _two_terms(f):
    """(number, other term) for a two-term sum with one positive numeric term, else None."""
    if not isinstance(f, sp.Add) or len(f.args) != 2:
        return None
    numbers = [t for t in f.args if t.is_number]
    if len(numbers) != 1 or numbers[0].is_zero:
        return None
    other = next(t for t in f.args if t is not numbers[0])
    return numbers[0], other


def _log_erfc_times(k, u):
    """log(k erfc(u)): log Phi(-v) when that is exactly Phi(-v) (k = 1/2, u = v / sqrt 2, a normal
    CDF), else log k + log erfc(u). Not log 2 + log Phi in general: near u = 0 the value is
    ~ -2u/sqrt(pi), and log Phi(0) + log 2 would cancel it away; log erfc keeps it (log1p there)."""
    v = u * sp.sqrt(2)
    if k == sp.Rational(1, 2) and sp.count_ops(v) < sp.count_ops(u):
        return LogNdtr(-v)
    return sp.log(k) + LogErfc(u)


def _erfc_log(f):
    """The stable log of f when f is k erfc(u), k (1 + erf u), k (1 - erf u) or k (2 - erfc u), k > 0."""
    if isinstance(f, sp.erfc):
        return LogErfc(f.args[0])
    parts = _two_terms(f)
    if parts is None:
        return None
    k, other = parts
    m, g = other.as_coeff_Mul()
    if isinstance(g, sp.erf) and k.is_positive and abs(m) == k:
        # k + k erf(u) = k erfc(-u); k - k erf(u) = k erfc(u): never 1 + erf(u), which is 0 once erf rounds to -1.
        return _log_erfc_times(k, -g.args[0] if m > 0 else g.args[0])
    if isinstance(g, sp.erfc) and m.is_negative and k == -2 * m:
        # SymPy writes erfc(-u) as 2 - erfc(u) (0 once erfc(u) rounds to 2); it is erfc(-u) again here.
        return _log_erfc_times(-m, -g.args[0])
    return None


log_erfc_opt = Rewrite(
    "log_erfc",
    lambda e: _split_log_factor(e, _erfc_log) is not None,
    lambda e: _stable_log(e, _erfc_log),
    "log(1 + erf(u)) is log(0) = -inf once erf(u) rounds to -1 (u < -5.9; a skew-normal loses every digit "
    "below a y = -7); log Phi and log erfc (log_ndtr, erfcx) are finite and exact in both tails",
    priority=160,
)


# ---------------------------------------------------------------------------
# Ratios of normal tails: phi^2 / Phi and its kin (a censored normal's Fisher information)
# ---------------------------------------------------------------------------


TAIL_UNDERFLOW = 1e150  # |a| past which a^k phi(a) is below the smallest float for every k a kernel meets


def _tail_argument(e):
    """u when e is a product with a negative power of a sum holding erf(u) (erf of one argument
    only, and no function but erf and exp): a ratio of Gaussian densities and normal CDFs. Else None."""
    if not isinstance(e, sp.Mul) or not e.has(sp.exp):
        return None
    arguments = {f.args[0] for f in e.atoms(sp.erf)}
    if len(arguments) != 1 or any(not isinstance(f, (sp.erf, sp.exp)) for f in e.atoms(sp.Function)):
        return None
    over_cdf = any(isinstance(f, sp.Pow) and f.exp.is_negative and f.base.has(sp.erf) for f in e.args)
    return next(iter(arguments)) if over_cdf else None


def _in_standard_score(coefficient, a):
    """coefficient written in the standard score a (linear in one of its symbols): c^2 - 2 c mu + mu^2 + sigma^2
    is sigma^2 (a^2 + 1), which does not cancel when c and mu are large and close."""
    score = sp.Dummy("a")
    for x in sorted(a.free_symbols, key=str):
        slope = sp.diff(a, x)
        if slope != 0 and not slope.has(x):
            return sp.factor(sp.expand(coefficient.subs(x, x + (score - a) / slope))).subs(score, a)
    return sp.factor(coefficient)


def _in_tails(e):
    """e written in phi(a), Phi(a), 1 - Phi(a) and the inverse Mills ratio phi(a)/Phi(a), a = sqrt(2) u:
    each term's exponentials are gathered into one e^{m u^2}, and a term over Phi^j is
    e^{(m + j) u^2} (sqrt(2 pi) phi/Phi)^j, bounded when m + j <= 0. Unchanged where a term does
    not take that form."""
    u = _tail_argument(e)
    t = sp.Dummy("Phi", positive=True)  # Phi(a) = (1 + erf u) / 2
    terms = sp.Add.make_args(sp.expand(sp.expand(e.xreplace({sp.erf(u): 2 * t - 1}))))
    polynomial, rest = sp.S.Zero, {}
    for term in terms:
        term = sp.powsimp(term, combine="exp")
        coefficient, t_power = term.as_independent(t, as_Add=False)
        base, k = t_power.as_base_exp()
        if t_power == 1:
            k = 0
        elif base != t or not k.is_Integer:
            return e
        exponentials = [f for f in sp.Mul.make_args(coefficient) if isinstance(f, sp.exp)]
        coefficient = sp.Mul(*(f for f in sp.Mul.make_args(coefficient) if not isinstance(f, sp.exp)))
        m = sp.cancel(sp.Add(*(f.args[0] for f in exponentials)) / u**2)
        if not m.is_number or coefficient.has(sp.exp, t):
            return e
        if m == 0 and k >= 0:
            polynomial += coefficient * t**k
        elif m + max(-k, 0) > 0:  # e^{m u^2} would overflow where the whole term does not
            return e
        else:
            rest[m, int(k)] = rest.get((m, int(k)), sp.S.Zero) + coefficient
    u = sp.factor(u)
    a = sp.factor(sp.sqrt(2) * u)
    upper = sp.erfc(u, evaluate=False) / 2  # 1 - Phi(a), never 1 - (a number next to 1)
    lower = sp.erfc(-u, evaluate=False) / 2  # Phi(a), never 1 + (a number next to -1)
    if polynomial.subs(t, 1) == 0:  # vanishes where Phi = 1: in 1 - Phi, which keeps its digits as a -> inf
        out = sp.expand(polynomial.subs(t, 1 - t)).subs(t, upper)
    else:
        out = polynomial.subs(t, lower)
    if not rest:
        return out
    tails = sp.S.Zero
    for (m, k), coefficient in rest.items():
        j = max(-k, 0)
        tails += (_in_standard_score(coefficient, a) * sp.exp((m + j) * u**2)
                  * (sp.sqrt(2 * sp.pi) * InverseMills(a)) ** j * lower ** max(k, 0))
    # Past |a| = 1e150 each of these terms is below e^(-1e300) and rounds to 0 in any float, while
    # a^2 overflows, and a^2 e^(-a^2/2) would be inf * 0 = nan. The one place a rule rounds: to 0,
    # where every float does.
    return out + sp.Piecewise((tails, sp.Abs(a) < sp.Float(TAIL_UNDERFLOW)), (0, True))


normal_tail_ratio_opt = Rewrite(
    "normal_tail_ratio",
    lambda e: _tail_argument(e) is not None,
    _in_tails,
    "phi(a)^2 / Phi(a) simplified as one fraction carries e^{c^2/sigma^2} and e^{mu^2/sigma^2} apart "
    "(a censored normal's Fisher information is inf/inf = nan at c = 30, mu = 25, sigma = 1); written in "
    "phi(a), 1 - Phi(a) and phi/Phi (erfcx), every term is bounded",
    priority=165,
)


def _exp_term(f, sign):
    """x when f is 1 - e^x (sign = -1) or e^x - 1 (sign = +1), else None."""
    parts = _two_terms(f)
    if parts is None or parts[0] != -sign:
        return None
    c, g = parts[1].as_coeff_Mul()
    return g.args[0] if isinstance(g, sp.exp) and c == sign else None


log1mexp_opt = Rewrite(
    "log1mexp",
    lambda e: _split_log_factor(e, lambda f: None if _exp_term(f, -1) is None else Log1mExp(_exp_term(f, -1))) is not None,
    lambda e: _stable_log(e, lambda f: None if _exp_term(f, -1) is None else Log1mExp(_exp_term(f, -1))),
    "log(1 - e^x) is log(0) for x > -1e-16 and loses e^x < 1e-16 below; log(-expm1 x) above -log 2 "
    "and log1p(-e^x) below keep every digit (a censored exponential's log survival)",
    priority=170,
)

log_expm1_opt = Rewrite(
    "log_expm1",
    lambda e: _split_log_factor(e, lambda f: None if _exp_term(f, 1) is None else LogExpm1(_exp_term(f, 1))) is not None,
    lambda e: _stable_log(e, lambda f: None if _exp_term(f, 1) is None else LogExpm1(_exp_term(f, 1))),
    "log(e^x - 1) overflows for x > 709 and cancels for x < 1e-16; x + log1p(-e^-x) and log(expm1 x) do not",
    priority=175,
)

# ---------------------------------------------------------------------------
# logsumexp and log_softmax over the event axis (a symbolic number of classes)
# ---------------------------------------------------------------------------


def _lse_parts(s):
    """(z_base, K) when s is Sum_{j=1}^{K} exp(z[j]), else None."""
    if not isinstance(s, sp.Sum) or len(s.limits) != 1:
        return None
    j, lo, hi = s.limits[0]
    body = s.function
    if lo == 1 and isinstance(body, sp.exp) and isinstance(body.args[0], sp.Indexed) and body.args[0].indices == (j,):
        return body.args[0].base, hi
    return None


logsumexp_opt = Rewrite(
    "logsumexp",
    lambda e: isinstance(e, sp.log) and _lse_parts(e.args[0]) is not None,
    lambda e: LogSumExp(*_lse_parts(e.args[0])),
    "log sum exp(z) overflows at z > 709; subtracting the max first keeps every exponent <= 0",
    priority=150,
)


def _log_softmax_parts(e):
    """(z_base, k, K) when e is log(exp(z[k]) / Sum_j exp(z[j])), else None."""
    if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Mul):
        return None
    num = [f for f in e.args[0].args if isinstance(f, sp.exp) and isinstance(f.args[0], sp.Indexed)]
    den = [f for f in e.args[0].args if isinstance(f, sp.Pow) and f.exp == -1 and _lse_parts(f.base) is not None]
    if len(num) != 1 or len(den) != 1 or len(e.args[0].args) != 2:
        return None
    zk = num[0].args[0]
    zbase, K = _lse_parts(den[0].base)
    if zk.base != zbase:
        return None
    return zbase, zk.indices[0], K


log_softmax_opt = Rewrite(
    "log_softmax",
    lambda e: _log_softmax_parts(e) is not None,
    lambda e: (lambda z, k, K: z[k] - LogSumExp(z, K))(*_log_softmax_parts(e)),
    "softmax underflows to 0 for a logit 745 below the max and its log is -inf; z_k - logsumexp(z) is exact",
    priority=140,
)

# ---------------------------------------------------------------------------
# Exact at infinite logits: a weight of exactly 0 times an infinite value is 0
# ---------------------------------------------------------------------------


def _softplus_minus_weighted(e):
    """(z, w) when e is softplus(z) - w z (a BCE with logits: w the target, free of z), else None."""
    if not isinstance(e, sp.Add):
        return None
    for sp_term in (t for t in e.args if isinstance(t, Softplus)):
        z = sp_term.args[0]
        rest = e - sp_term
        w = sp.expand(-rest / z)
        # w free of z's symbols, not only of z: with z = -logits, rest / z divides by logits
        # and w.has(-logits) is False (a weight of psi(n)/logits is nan at logits = 0)
        if w.free_symbols and not w.has(*z.free_symbols) and not (rest + w * z).expand():
            return z, w
    return None


def _bce_exact_at_infinity(e):
    z, w = _softplus_minus_weighted(e)
    # softplus(z) - w z = w softplus(-z) + (1 - w) softplus(z): no inf - inf at z = +-inf, and each
    # term weighted by XMul, so a weight of 0 on an infinite softplus is 0 (the limit). Smooth, so
    # its derivative is sigmoid(z) - w everywhere (a split at max(z, 0) has a kink at 0).
    return XMul(w, Softplus(-z)) + XMul(1 - w, Softplus(z))


bce_logits_opt = Rewrite(
    "bce_logits",
    lambda e: _softplus_minus_weighted(e) is not None,
    _bce_exact_at_infinity,
    "softplus(z) - y z is inf - inf = nan at z = +inf (and 0 * -inf at z = -inf, y = 0); the limit is 0 "
    "(y = 1) or inf (y = 0): y softplus(-z) + (1 - y) softplus(z), each weight exact at 0, gives it",
    priority=180,
)


def _softplus_linear(e):
    """(z, a, w, rest) when e = a softplus(z) - w z + rest with z a symbol (a logit), a, w and
    rest free of z, and both w and a - w nonnegative (counts, a target), else None."""
    if not isinstance(e, sp.Add):
        return None
    for term in sorted(e.atoms(Softplus), key=sp.default_sort_key):
        z = term.args[0]
        if not z.is_Symbol:
            continue
        x = sp.Dummy("softplus")
        f = sp.expand(e.xreplace({term: x}))
        a = f.diff(x)
        g = sp.expand(f - a * x)
        w = -g.diff(z)
        rest = sp.expand(g + w * z)
        if a.has(x, z) or w.has(x, z) or rest.has(z) or w == 0:
            continue
        if w.is_nonnegative and (a - w).is_nonnegative:
            return z, a, w, rest
    return None


def _softplus_split(e):
    z, a, w, rest = _softplus_linear(e)

    def weighted(weight, value):  # a weight known to be positive (a count n) needs no XMul
        return weight * value if (weight.is_positive or weight.is_zero) else XMul(weight, value)

    # a softplus(z) - w z = w softplus(-z) + (a - w) softplus(z): each weight exact at 0
    return weighted(w, Softplus(-z)) + weighted(sp.factor(a - w), Softplus(z)) + rest


weighted_softplus_opt = Rewrite(
    "weighted_softplus",
    lambda e: _softplus_linear(e) is not None,
    _softplus_split,
    "(n + y) softplus(z) - n z (a negative binomial with logits) is inf - inf = nan at z = +inf and 0 * inf at "
    "y = 0; n softplus(-z) + y softplus(z), each weight exact at 0, is its limit (0 at y = 0, inf at y > 0)",
    priority=182,
)


def _weighted_event_sum(e):
    """(w, z) when e is the event sum of w[k] z[k] with w a nonnegative weight (a target), else None."""
    if not (isinstance(e, sp.Sum) and isinstance(e.function, sp.Mul) and len(e.function.args) == 2):
        return None
    a, b = e.function.args
    if not (isinstance(a, sp.Indexed) and isinstance(b, sp.Indexed)):
        return None
    if a.is_nonnegative and not b.is_nonnegative:
        return a, b
    if b.is_nonnegative and not a.is_nonnegative:
        return b, a
    return None


zero_weight_sum_opt = Rewrite(
    "zero_weight_sum",
    lambda e: _weighted_event_sum(e) is not None,
    lambda e: sp.Sum(XMul(*_weighted_event_sum(e)), *e.limits),
    "sum_k y_k z_k is 0 * -inf = nan where a class the target weighs 0 has logit -inf; that term's limit is 0",
    priority=185,
)

# ---------------------------------------------------------------------------
# xlogy and xlog1py: 0 log 0 = 0
# ---------------------------------------------------------------------------


def _mul_with_log(e, want_one_minus: bool):
    if not isinstance(e, sp.Mul):
        return None
    logs = [f for f in e.args if isinstance(f, sp.log)]
    if len(logs) != 1:
        return None
    arg = logs[0].args[0]
    if arg.is_positive:  # the log's argument cannot be 0, so x log(arg) is already safe
        return None
    rest = sp.Mul(*(f for f in e.args if f is not logs[0]))
    if not rest.free_symbols:
        return None
    is_one_minus = isinstance(arg, sp.Add) and sp.S.One in arg.args
    if is_one_minus != want_one_minus:
        return None
    return rest, arg


xlogy_opt = Rewrite(
    "xlogy",
    lambda e: _mul_with_log(e, False) is not None,
    lambda e: XLogY(*_mul_with_log(e, False)),
    "x log p is 0 * -inf = nan at x = p = 0; the limit (and the convention) is 0",
    priority=410,
)

xlog1py_opt = Rewrite(
    "xlog1py",
    lambda e: _mul_with_log(e, True) is not None,
    lambda e: (lambda x, a: XLog1PY(x, a - 1))(*_mul_with_log(e, True)),
    "x log(1 - p) is nan at x = 0, p = 1, and log(1 - p) loses digits for tiny p; log1p keeps them",
    priority=400,
)

# ---------------------------------------------------------------------------
# log Gamma, log y!, log binomial, log Beta
# ---------------------------------------------------------------------------


def _to_loggamma(e):
    if isinstance(e, sp.loggamma):
        return LogGamma(e.args[0])
    a = e.args[0]
    if isinstance(a, sp.gamma):
        return LogGamma(a.args[0])
    return LogGamma(a.args[0] + 1)  # factorial


gammaln_opt = Rewrite(
    "gammaln",
    lambda e: isinstance(e, sp.loggamma) or (isinstance(e, sp.log) and isinstance(e.args[0], (sp.gamma, sp.factorial))),
    _to_loggamma,
    "Gamma(x) overflows at x > 171 (so does y! at y > 170); log Gamma (gammaln) is finite to 1e305",
    priority=210,
)


log_binomial_opt = Rewrite(
    "log_binomial",
    lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.binomial),
    # log C(n, k) = -log(n + 1) - log B(n - k + 1, k + 1) (the runtime helper), exactly 0 at k = 0, n.
    lambda e: LogBinomial(*e.args[0].args),
    "C(n, k) overflows for n > 1029, and gammaln(n+1) - gammaln(k+1) - gammaln(n-k+1) cancels; betaln does not",
    priority=200,
)


def _scaled_sigmoid(x):
    """(a, z) when x is a sigmoid(z) with a > 0 (a may be 1), else None."""
    factors = sp.Mul.make_args(x)
    sigmoids = [f for f in factors if isinstance(f, Sigmoid)]
    if len(sigmoids) != 1:
        return None
    a = sp.Mul(*(f for f in factors if f is not sigmoids[0]))
    return (a, sigmoids[0].args[0]) if a.is_positive else None


def _shifted_log_gamma(e):
    a, z = _scaled_sigmoid(e.args[0])
    # log Gamma(x) = log Gamma(x + 1) - log x, with log x = log a - softplus(-z) formed in logs
    return LogGamma(e.args[0] + 1) - sp.expand_log(sp.log(a)) + Softplus(-z)


log_gamma_sigmoid_opt = Rewrite(
    "log_gamma_sigmoid",
    lambda e: isinstance(e, LogGamma) and _scaled_sigmoid(e.args[0]) is not None,
    _shifted_log_gamma,
    "log Gamma(phi sigmoid(z)) is log Gamma(0) = inf once sigmoid(z) underflows (z = -1000, the beta "
    "regression's logit) though it is about -z - log phi; log Gamma(x + 1) - log phi + softplus(-z) "
    "is finite, and its derivative x digamma(x + 1) - 1 has no 0 * inf",
    priority=215,
)


def _gammaln_terms(add):
    """{loggamma argument: coefficient} over the terms c * loggamma(u) of an Add."""
    found = {}
    for t in add.args:
        c, rest = t.as_coeff_Mul()
        if isinstance(rest, LogGamma):
            found[rest.args[0]] = found.get(rest.args[0], 0) + c
    return found


def _betaln_triple(add):
    """(c, a, b) with c loggamma(a) + c loggamma(b) - c loggamma(a + b) among the terms, else None."""
    if not isinstance(add, sp.Add):
        return None
    terms = _gammaln_terms(add)
    args = list(terms)
    for i, a in enumerate(args):
        for b in args[i:]:
            s = sp.expand(a + b)
            for total in args:
                if sp.expand(total - s) != 0 or total in (a, b):
                    continue
                c = terms[a]
                if a == b:
                    if terms[a] % 2 == 0 and terms[total] == -terms[a] / 2:
                        return terms[a] / 2, a, b, total
                    continue
                if terms[b] == c and terms[total] == -c:
                    return c, a, b, total
    return None


def _gammaln_shift(add):
    """(c, a, h) with c loggamma(a) - c loggamma(a + h), h a positive number, else None."""
    if not isinstance(add, sp.Add):
        return None
    terms = _gammaln_terms(add)
    for a, c in terms.items():
        for other, c2 in terms.items():
            h = sp.expand(other - a)
            if other != a and h.is_number and h.is_positive and c2 == -c:
                return c, a, other, h
    return None


def _combine_betaln(add):
    # log Gamma(a) - log Gamma(a + h) = log B(a, h) - log Gamma(h): for a = 1e8 the two
    # log-gammas are 1.7e9 each and cancel (Student-t's Gamma(nu/2) / Gamma(nu/2 + 1/2)).
    shift = _gammaln_shift(add)
    while shift is not None:
        c, a, other, h = shift
        kept, drop = [], {a: c, other: -c}
        for t in add.args:
            coeff, rest = t.as_coeff_Mul()
            if isinstance(rest, LogGamma) and rest.args[0] in drop and coeff == drop[rest.args[0]]:
                del drop[rest.args[0]]
                continue
            kept.append(t)
        add = sp.Add(*kept, c * LogBeta(a, h), -c * sp.log(sp.gamma(h)))
        shift = _gammaln_shift(add)
    triple = _betaln_triple(add)
    while triple is not None:
        c, a, b, total = triple
        remove = {a: c, b: c, total: -c} if a != b else {a: 2 * c, total: -c}
        kept = []
        for t in add.args:
            coeff, rest = t.as_coeff_Mul()
            if isinstance(rest, LogGamma) and rest.args[0] in remove and coeff == remove[rest.args[0]]:
                del remove[rest.args[0]]
                continue
            kept.append(t)
        add = sp.Add(*kept, c * LogBeta(a, b))
        triple = _betaln_triple(add)
    return add


betaln_opt = Rewrite(
    "betaln",
    lambda e: (isinstance(e, sp.log) and isinstance(e.args[0], sp.beta))
    or _betaln_triple(e) is not None
    or _gammaln_shift(e) is not None,
    lambda e: LogBeta(*e.args[0].args) if isinstance(e, sp.log) else _combine_betaln(e),
    "Beta(a, b) underflows for large a, b, and gammaln(a) + gammaln(b) - gammaln(a + b) cancels "
    "(1e-8 relative at a = 1e8, b = 1); betaln(a, b) is accurate to the last digits",
    priority=220,
)

def _lgamma_pairs(add):
    """The Add with its log-gammas (betaln's included) paired into log-gamma differences
    whose arguments differ by a number, if every non-constant one pairs."""
    if not isinstance(add, sp.Add) or not add.has(LogGamma, LogBeta):
        return None
    signed, rest = [], []
    for t in add.args:
        c, f = t.as_coeff_Mul()
        if isinstance(f, LogBeta) and c.is_Rational:
            a, b = f.args
            signed += [(c, a), (c, b), (-c, a + b)]
        elif isinstance(f, LogGamma) and c.is_Rational:
            signed.append((c, f.args[0]))
        else:
            rest.append(t)
    constants = [(c, x) for c, x in signed if x.is_number]
    signed = [(c, x) for c, x in signed if not x.is_number]
    if len(signed) < 2:
        return None
    pairs = []
    while signed:
        c, x = signed.pop(0)
        best = None
        for j, (c2, x2) in enumerate(signed):
            if c2 != -c:
                continue
            d = sp.expand(x2 - x)
            # A numeric shift (Student-t's nu/2 and nu/2 + 1/2), or a count where no betaln is near
            # (the negative binomial's n and n + y: their difference, 6.9e-9 at n = 1e-8, y = 0, kept
            # 7 digits beside log Gamma(n) = 18.4). Pairing across a count next to a betaln (a + b
            # against a + b + n) would round b away inside a + b when b << a, where betaln keeps it.
            size = -d if d.could_extract_minus_sign() else d
            count = size.is_Symbol and size.is_nonnegative and not add.has(LogBeta)
            if (d.is_number or count) and (best is None or sp.count_ops(d) < best[0]):
                best = (sp.count_ops(d), j, d)
        if best is None:
            return None
        _, j, d = best
        _, x2 = signed.pop(j)
        if d.could_extract_minus_sign():  # c lgG(x2 - d) - c lgG(x2) = c (lgG(x2 + |d|) - lgG(x2))
            pairs.append(c * LogGammaDiff(x2, -d))
        else:  # c lgG(x) - c lgG(x + d) = -c (lgG(x + d) - lgG(x))
            pairs.append(-c * LogGammaDiff(x, d))
    return sp.Add(*rest, *pairs, *(c * sp.log(sp.gamma(x)) for c, x in constants))


lgamma_pairs_opt = Rewrite(
    "lgamma_pairs",
    lambda e: _lgamma_pairs(e) is not None,
    _lgamma_pairs,
    "Student-t's log Gamma(nu/2) - log Gamma(nu/2 + 1/2) subtracts two values of size 8.7e8 at nu = 1e8; "
    "as one log-gamma difference (a rising factorial) it is computed directly",
    priority=230,
)

# ---------------------------------------------------------------------------
# Loader's saddle-point form of the Poisson NLL
# ---------------------------------------------------------------------------


def _poisson_terms(add):
    """(y, rate, the three terms) when ``add`` holds rate - y log rate + log Gamma(y + 1),
    each with coefficient one (the rate may be e^z: then the middle term is -y z)."""
    if not isinstance(add, sp.Add):
        return None
    terms = add.args
    for lg in terms:
        if not isinstance(lg, LogGamma):
            continue
        y = lg.args[0] - 1
        if not (y.is_nonnegative and y.is_integer is not False):
            continue
        for rate in terms:
            if rate is lg or not rate.is_nonnegative or rate.has(LogGamma):  # a rate of 0 is allowed
                continue
            log_rate = sp.expand_log(sp.log(rate))
            middle = sp.expand(-y * log_rate)
            for t in terms:
                if t is not lg and t is not rate and sp.expand(t) == middle:
                    return y, rate, (lg, rate, t)
    return None


def _poisson_saddle(add):
    y, rate, used = _poisson_terms(add)
    rest = [t for t in add.args if t not in used]
    # A log link hands over z = log rate itself: keep it (e^z may underflow where z does not).
    value = NegLogPoissonLog(y, rate.args[0]) if isinstance(rate, sp.exp) else NegLogPoisson(y, rate)
    return sp.Add(value, *rest)


poisson_saddle_opt = Rewrite(
    "poisson_saddle",
    lambda e: _poisson_terms(e) is not None,
    _poisson_saddle,
    "rate - y log rate + log y! subtracts terms of 1.3e7 to leave 7.8 at y = rate = 1e6 (relative error "
    "9e-11); Loader's bd0(y, rate) + stirlerr(y) + log(2 pi y)/2 adds three non-negative terms",
    priority=240,
)


def _same(a, b) -> bool:
    """a == b, proven: both in exact elementary form, logs expanded (every argument here is positive)."""
    d = sp.expand(sp.expand_log(exact(a) - exact(b), force=True))
    return d == 0


def _binomial_parts(add):
    """(y, n, p or z, which) when ``add`` is exactly the binomial NLL
    -log C(n, y) - y log p - (n - y) log(1 - p), or with p = sigmoid(z), n softplus(z) - y z - log C(n, y)."""
    if not isinstance(add, sp.Add) or not add.has(LogBinomial):
        return None
    for t in add.args:
        c, f = t.as_coeff_Mul()
        if c != -1 or not isinstance(f, LogBinomial):
            continue
        n, y = f.args
        rest = add - t
        for p in {g.args[1] for g in rest.atoms(XLogY)}:
            if _same(rest, -y * sp.log(p) - (n - y) * sp.log(1 - p)):
                return y, n, p, NegLogBinomial
        for z in {g.args[0] for g in rest.atoms(Softplus)}:
            if _same(rest, n * Softplus(z) - y * z):
                return y, n, z, NegLogBinomialLogit
    return None


def _binomial_saddle(add):
    y, n, theta, fn = _binomial_parts(add)
    return fn(y, n, theta)


binomial_saddle_opt = Rewrite(
    "binomial_saddle",
    lambda e: _binomial_parts(e) is not None,
    _binomial_saddle,
    "-log C(n, y) - y log p - (n - y) log(1 - p) cancels terms of 3.5e6 to leave 7.6 at n = 1e7, y = n p; "
    "Loader's bd0(y, np) + bd0(n - y, nq) + Stirling remainders does not",
    priority=450,
)


def _same_logs(a, b) -> bool:
    """a == b where the logs hold sums of fractions (log(1 + mu/n) = log(n + mu) - log n): each log's
    argument over one denominator, then logs expanded (every argument here is positive)."""
    d = exact(a) - exact(b)
    d = d.replace(sp.log, lambda arg: sp.log(sp.together(arg)))
    return sp.expand(sp.expand_log(d, force=True)) == 0


def _mean_form_terms(rest, n, y):
    """(z, the terms of the NB NLL, the other terms) when ``rest`` holds the mean parametrisation's
    n log(1 + mu/n) + y log(1 + n/mu) (as log1p or softplus terms) beside other terms: that is
    (n + y) softplus(z) - n z with z = log(n/mu) = logit p, so the logit saddle point applies and
    1 - p = mu/(n + mu) is never rounded."""
    terms = sp.Add.make_args(rest)
    ratios = [g.args[0] for g in rest.atoms(Log1pPositive)]
    ratios += [g.args[0] - 1 for g in rest.atoms(sp.log) if isinstance(g.args[0], sp.Add) and sp.S.One in g.args[0].args]
    candidates = [-sp.expand_log(sp.log(r), force=True) for r in ratios] + [g.args[0] for g in rest.atoms(Softplus)]
    for z in candidates:
        mine = [t for t in terms if t.has(Log1pPositive, Softplus, sp.log) and t.free_symbols & z.free_symbols]
        if mine and _same_logs(sp.Add(*mine), (n + y) * Softplus(z) - n * z):
            return z, [t for t in terms if t not in mine]
    return None


def _neg_binomial_parts(add):
    """(y, n, p or z, which, other terms) when ``add`` is the negative-binomial NLL
    log Gamma(n) + log Gamma(y + 1) - log Gamma(n + y) - n log p - y log(1 - p), or with p = sigmoid(z),
    exactly; or in the mean parametrisation p = n/(n + mu), beside other terms (a zero-inflated count)."""
    if not isinstance(add, sp.Add) or not add.has(LogGamma):
        return None
    plus = [t for t in add.args if isinstance(t, LogGamma)]
    minus = [t for t in add.args if t.as_coeff_Mul()[0] == -1 and isinstance(t.as_coeff_Mul()[1], LogGamma)]
    for m in minus:
        total = m.as_coeff_Mul()[1].args[0]
        for a in plus:
            for b in plus:
                if a is b or sp.expand(a.args[0] + b.args[0] - 1 - total) != 0:
                    continue
                n, y = a.args[0], b.args[0] - 1
                rest = add - a - b - m
                for p in {g.args[1] for g in rest.atoms(XLogY)}:
                    if _same(rest, -n * sp.log(p) - y * sp.log(1 - p)):
                        return y, n, p, NegLogNegBinomial, []
                for z in {g.args[0] for g in rest.atoms(Softplus)}:
                    if _same(rest, (n + y) * Softplus(z) - n * z):
                        return y, n, z, NegLogNegBinomialLogit, []
                found = _mean_form_terms(rest, n, y)
                if found is not None:
                    return y, n, found[0], NegLogNegBinomialLogit, found[1]
    return None


def _neg_binomial_saddle(add):
    y, n, theta, fn, others = _neg_binomial_parts(add)
    return sp.Add(fn(y, n, theta), *others)


neg_binomial_saddle_opt = Rewrite(
    "neg_binomial_saddle",
    lambda e: _neg_binomial_parts(e) is not None,
    _neg_binomial_saddle,
    "log Gamma(n) + log y! - log Gamma(n + y) - n log p - y log(1 - p) cancels terms of 1e7 at y = n(1 - p)/p; "
    "as log1p(y/n) - log Bin(n; n + y, p), the binomial's saddle-point form does not",
    priority=460,
)


def _one_way_sigmoids(e):
    """e with each sigmoid(-u) written 1 - sigmoid(u) (exact), so that expand sees
    phi sigmoid(-z) log(1 - y) = phi log(1 - y) - phi sigmoid(z) log(1 - y)."""
    return e.replace(lambda f: isinstance(f, Sigmoid) and f.args[0].could_extract_minus_sign(),
                     lambda f: 1 - Sigmoid(-f.args[0]))


def _beta_label(rest, a, b):
    """The y for which ``rest`` is exactly -(a - 1) log y - (b - 1) log(1 - y), else None."""
    parameters = a.free_symbols | b.free_symbols
    target = _one_way_sigmoids(rest)
    for y in _symbols(rest):
        if y not in parameters and _same(target, _one_way_sigmoids(-(a - 1) * sp.log(y) - (b - 1) * sp.log(1 - y))):
            return y
    return None


def _beta_parts(add):
    """(y, a, b) when ``add`` is exactly the beta NLL log B(a, b) - (a - 1) log y - (b - 1) log(1 - y),
    in any parametrisation of a and b (the mean-precision a = mu phi, b = (1 - mu) phi too), else None."""
    if not isinstance(add, sp.Add) or not add.has(LogBeta):
        return None
    for t in add.args:
        if not isinstance(t, LogBeta):
            continue
        a, b = t.args
        if t.has(Sigmoid):  # a = phi sigmoid(z) may underflow to 0 where the NLL is finite: log_gamma_sigmoid's case
            continue
        y = _beta_label(add - t, a, b)
        if y is not None:
            return y, a, b
    return None


beta_saddle_opt = Rewrite(
    "beta_saddle",
    lambda e: _beta_parts(e) is not None,
    lambda e: NegLogBeta(*_beta_parts(e)),
    "log B(a, b) - (a - 1) log y - (b - 1) log(1 - y) cancels terms of 6.9e7 to leave -9.3 at a = b = 1e8, "
    "y = 1/2 (relative error 2.6e-8); bd0(a, s y) + bd0(b, s (1 - y)) + Stirling remainders (s = a + b) does not",
    priority=455,
)


def _beta_logit_parts(add):
    """(y, z, phi) when ``add`` is exactly log Gamma(phi sigmoid(z)) + log Gamma(phi sigmoid(-z)) - log Gamma(phi)
    - (phi sigmoid(z) - 1) log y - (phi sigmoid(-z) - 1) log(1 - y): the beta regression's NLL with its mean
    behind a logit link, before log_gamma_sigmoid splits the log-gammas of the two sigmoids."""
    if not isinstance(add, sp.Add) or not add.has(LogGamma, Sigmoid):
        return None
    totals = [t for t in add.args if t.as_coeff_Mul()[0] == -1 and isinstance(t.as_coeff_Mul()[1], LogGamma)]
    scaled = {}
    for t in add.args:
        if isinstance(t, LogGamma) and _scaled_sigmoid(t.args[0]) is not None:
            scaled[_scaled_sigmoid(t.args[0])] = t
    for minus in totals:
        phi = minus.as_coeff_Mul()[1].args[0]
        for (scale, z), first in scaled.items():
            second = scaled.get((phi, -z))
            if scale != phi or second is None or z.could_extract_minus_sign():
                continue
            y = _beta_label(add - minus - first - second, phi * Sigmoid(z), phi * Sigmoid(-z))
            if y is not None:
                return y, z, phi
    return None


beta_logit_saddle_opt = Rewrite(
    "beta_logit_saddle",
    lambda e: _beta_logit_parts(e) is not None,
    lambda e: NegLogBetaLogit(*_beta_logit_parts(e)),
    "the beta regression's NLL under a logit link cancels terms of 6.9e7 to leave -9.3 at phi = 1e8, z = 0, "
    "y = 1/2 as the beta's does; the saddle-point form with a + b = phi exactly does not",
    priority=214,  # before log_gamma_sigmoid rewrites log Gamma(phi sigmoid(z)) term by term
)


# ---------------------------------------------------------------------------
# The gamma NLL and deviance: a deviance plus a Stirling term
# ---------------------------------------------------------------------------


def _symbols(e):
    # y is only non-negative where the support is closed at 0 (k = 1): every symbol is a candidate.
    return sorted(e.free_symbols, key=str)


def _log_rates(e):
    """z for each e^-z in ``e``: the mean e^z of a log link."""
    return sorted({-f.args[0] for f in e.atoms(sp.exp)}, key=str)


def _gamma_nll_parts(add):
    """(y, mu or z, k, which) when ``add`` is exactly k y/mu - k log(k/mu) - (k - 1) log y + log Gamma(k),
    or the same with mu = e^z, else None."""
    if not isinstance(add, sp.Add) or not add.has(sp.log):
        return None
    for lg in add.args:
        if not isinstance(lg, LogGamma) or not lg.args[0].is_positive:
            continue
        k, rest = lg.args[0], add - lg
        candidates = [s for s in _symbols(rest) if s != k]
        for y in candidates:
            for mu in candidates:
                if mu != y and _same(rest, k * y / mu - k * sp.log(k) + k * sp.log(mu) - (k - 1) * sp.log(y)):
                    return y, mu, k, NegLogGamma
            for z in _log_rates(rest):
                if _same(rest, k * y * sp.exp(-z) + k * z - k * sp.log(k) - (k - 1) * sp.log(y)):
                    return y, z, k, NegLogGammaLog
    return None


def _gamma_nll(add):
    y, theta, k, fn = _gamma_nll_parts(add)
    return fn(y, theta, k)


gamma_nll_opt = Rewrite(
    "gamma_nll",
    lambda e: _gamma_nll_parts(e) is not None,
    _gamma_nll,
    "k y/mu - k log(k/mu) - (k - 1) log y + log Gamma(k) cancels terms of 1.8e9 at k = 1e8, y = mu "
    "(relative error 3e-8); k (y/mu - 1 - log(y/mu)) + stirlerr(k) - log(k/(2 pi))/2 + log y does not",
    priority=250,
)


def _gamma_deviance_parts(add):
    """(c, y, mu or z, which) when ``add`` is exactly c (y/mu - 1 - log(y/mu)) with c > 0, or the same
    with mu = e^z, else None."""
    if not isinstance(add, sp.Add) or len(add.args) > 4 or not add.has(sp.log):
        return None
    numbers = [t for t in add.args if t.is_number]
    if len(numbers) != 1 or not numbers[0].is_negative:
        return None
    c = -numbers[0]
    candidates = _symbols(add)
    for y in candidates:
        for mu in candidates:
            if mu != y and _same(add, c * (y / mu - 1 - sp.log(y) + sp.log(mu))):
                return c, y, mu, GammaDeviance
        for z in _log_rates(add):
            if _same(add, c * (y * sp.exp(-z) - 1 - sp.log(y) + z)):
                return c, y, z, GammaDevianceLog
    return None


def _gamma_deviance(add):
    c, y, theta, fn = _gamma_deviance_parts(add)
    return c * fn(y, theta)


gamma_deviance_opt = Rewrite(
    "gamma_deviance",
    lambda e: _gamma_deviance_parts(e) is not None,
    _gamma_deviance,
    "2 log mu - 2 log y + 2 y/mu - 2 subtracts terms of size log mu to leave (y/mu - 1)^2 near y = mu; "
    "r - log1p(r) with r = (y - mu)/mu (a series near 0) keeps every digit",
    priority=255,
)


# ---------------------------------------------------------------------------
# log cosh, log I0
# ---------------------------------------------------------------------------


def _logcosh_value(e):
    a = e.args[0]
    if isinstance(a, sp.cosh):
        return LogCosh(a.args[0])
    return -LogCosh(a.args[0])  # log sech(x) = -log cosh(x)


logcosh_opt = Rewrite(
    "logcosh",
    lambda e: isinstance(e, sp.log) and isinstance(e.args[0], (sp.cosh, sp.sech)),
    _logcosh_value,
    "cosh(x) overflows for |x| > 710; log cosh(x) = |x| + log1p(e^(-2|x|)) - log 2 does not",
    priority=300,
)

log_i0_opt = Rewrite(
    "log_i0",
    lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.besseli) and e.args[0].args[0] == 0,
    lambda e: LogBesselI0(e.args[0].args[1]),
    "I0(kappa) overflows for kappa > 713; log(i0e(kappa)) + kappa uses the scaled function, which does not",
    priority=310,
)

log_iv_opt = Rewrite(
    "log_iv",
    lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.besseli) and e.args[0].args[0] != 0
    and e.args[0].args[1].is_positive,
    lambda e: LogBesselI(*e.args[0].args),
    "I_nu(kappa) overflows for kappa > 713 and underflows near 0 for large nu; log(ive(nu, kappa)) + kappa, "
    "or the ascending series in logs near 0, does neither",
    priority=315,
)


def _iv_power_parts(add):
    """(the LogBesselI term, the -nu log x term) when the Add holds both, else None."""
    if not isinstance(add, sp.Add):
        return None
    for t in add.args:
        if isinstance(t, LogBesselI):
            nu, x = t.args
            for other in add.args:
                coeff = other.coeff(sp.log(x))
                if other is not t and coeff != 0 and sp.expand(other - coeff * sp.log(x)) == 0 \
                        and sp.expand(coeff + nu) == 0:
                    return t, other
    return None


def _iv_power_value(add):
    t_iv, t_log = _iv_power_parts(add)
    rest = [t for t in add.args if t is not t_iv and t is not t_log]
    return sp.Add(*rest, LogBesselIOverPower(*t_iv.args))


log_iv_over_power_opt = Rewrite(
    "log_iv_over_power",
    lambda e: _iv_power_parts(e) is not None,
    _iv_power_value,
    "the von Mises-Fisher log I_nu(kappa) - nu log kappa cancels two terms of size nu |log kappa| (28 at "
    "kappa = 1e-8) and its derivative nu/kappa against nu/kappa (5e7); log(I_nu(kappa)/kappa^nu) from its "
    "series, with derivative I_(nu+1)/I_nu, does neither",
    priority=316,
)


def _i0_cos_parts(add):
    """(kappa, u) when the Add holds log I0(kappa) and -kappa cos(u), else None."""
    if not isinstance(add, sp.Add):
        return None
    i0 = [t for t in add.args if isinstance(t, LogBesselI0)]
    for t in i0:
        kappa = t.args[0]
        for other in add.args:
            c, rest = other.as_coeff_Mul()
            factors = sp.Mul.make_args(rest)
            cos = [f for f in factors if isinstance(f, sp.cos)]
            if c == -1 and len(cos) == 1 and sp.Mul(*(f for f in factors if f is not cos[0])) == kappa:
                return kappa, cos[0].args[0], t, other
    return None


def _i0_cos_value(add):
    kappa, u, t_i0, t_cos = _i0_cos_parts(add)
    rest = [t for t in add.args if t is not t_i0 and t is not t_cos]
    # log I0(k) - k cos u = log(i0e(k)) + k (1 - cos u) = log(i0e(k)) - k cosm1(u), for k >= 0.
    return sp.Add(*rest, LogBesselI0e(kappa), -kappa * cosm1(u))


log_i0_cos_opt = Rewrite(
    "log_i0_cos",
    lambda e: _i0_cos_parts(e) is not None and _i0_cos_parts(e)[0].is_nonnegative,
    _i0_cos_value,
    "von Mises' log I0(kappa) - kappa cos(y - mu) cancels two terms of size kappa (1e8); "
    "log(i0e(kappa)) + kappa (1 - cos(y - mu)) has no such cancellation",
    priority=320,
)

# ---------------------------------------------------------------------------
# log1p and expm1: SymPy's own rules
# ---------------------------------------------------------------------------

def _log1p_value(e):
    a = e.args[0]
    if isinstance(a, sp.Add) and sp.S.One in a.args:
        return log1p(a - 1)  # log(1 + x) as written: no factoring (Cauchy's 1 + r^2/gamma^2 stays whole)
    out = _sympy_log1p_opt.value(e)  # SymPy's rule: factor the argument, split the log, find 1 + x
    return out if out.has(log1p) else e


log1p_opt = Rewrite(
    "log1p",
    lambda e: isinstance(e, sp.log),
    _log1p_value,
    "log(1 + x) loses all digits of x below 1e-16; log1p(x) keeps them",
    priority=700,
)


def _expm1_value(e):
    # SymPy's expm1 rule, term by term in each Add (its alternative that factors the
    # whole expression first would reorder sums that are deliberately ordered).
    return ReplaceOptim.__call__(_sympy_expm1_opt, e)


expm1_opt = Rewrite(
    "expm1",
    lambda e: isinstance(e, sp.Add) and e.has(sp.exp) and any(t.is_number for t in e.args),
    _expm1_value,
    "e^x - 1 loses all digits of x below 1e-16; expm1(x) keeps them",
    priority=720,
)

cosm1_opt = Rewrite(
    "cosm1",
    lambda e: isinstance(e, sp.Add) and e.has(sp.cos) and any(t.is_number for t in e.args),
    lambda e: ReplaceOptim.__call__(_sympy_cosm1_opt, e),
    "1 - cos(x) is 0 for |x| < 1e-8 (von Mises' cosine loss near its minimum); -cosm1(x) = 2 sin(x/2)^2 is not",
    priority=730,
)

def _log1p_negexp_arg(e):
    """x when e is log1p(-exp(x)) (what log1p_opt makes of a log(1 - e^x) that log1mexp did not see), else None."""
    if not isinstance(e, log1p):
        return None
    term = -e.args[0]
    return term.args[0] if isinstance(term, sp.exp) else None


log1p_negexp_opt = Rewrite(
    "log1p_negexp",
    lambda e: _log1p_negexp_arg(e) is not None,
    lambda e: Log1mExp(_log1p_negexp_arg(e)),
    "log1p(-e^x) for x near 0 (the hurdle's truncation log(1 - e^-rate) at rate = 1e-20) is log1p(-1) = -inf; "
    "log1mexp (log(-expm1 x) above -log 2) keeps every digit there",
    priority=740,
)


def _without_exp(e, u):
    """e / e^u where every term of e carries the factor e^u (as exp(u) or XExp(u, ...)), else None."""
    if isinstance(e, sp.Add):
        terms = [_without_exp(t, u) for t in e.args]
        return None if any(t is None for t in terms) else sp.Add(*terms)
    if isinstance(e, XExp) and e.args[0] == u:
        return sp.Mul(*e.args[1:])
    if isinstance(e, sp.exp) and e.args[0] == u:
        return sp.S.One
    if isinstance(e, sp.Mul):
        for i, f in enumerate(e.args):
            rest = _without_exp(f, u) if isinstance(f, (XExp, sp.exp)) else None
            if rest is not None:
                return sp.Mul(*e.args[:i], rest, *e.args[i + 1:])
    return None


def _over_own_expm1(e):
    """(x, N / x) when e is N / expm1(-x) and N and x both carry the factor e^u of x = XExp(u, ...)
    (or N is x itself), else None: then e = (N / x) XOverExpm1Neg(x), and N / x is free of e^u."""
    if not isinstance(e, sp.Mul):
        return None
    for f in e.args:
        if isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, expm1):
            x = -f.base.args[0]
            numerator = sp.Mul(*(g for g in e.args if g is not f))
            if x in sp.Mul.make_args(numerator):
                return x, numerator / x
            coefficient, term = x.as_coeff_Mul()
            if not isinstance(term, XExp):
                continue
            u = term.args[0]
            scaled, per_unit = _without_exp(numerator, u), _without_exp(term, u)
            if scaled is not None and per_unit is not None:
                return x, scaled / (coefficient * per_unit)
    return None


def _x_over_expm1_value(e):
    x, factor = _over_own_expm1(e)
    return factor * XOverExpm1Neg(x)


x_over_expm1_opt = Rewrite(
    "x_over_expm1",
    lambda e: _over_own_expm1(e) is not None,
    _x_over_expm1_value,
    "x / expm1(-x) is -inf/inf = nan once x overflows to -inf (an interval-censored Weibull's gradient with "
    "the upper end 1e9 scales above the mean, where e^u is inf and the gradient is 0) and 0/0 at x = 0; "
    "written as one function it takes its limits there, 0 and -1. A numerator N that carries x's own e^u "
    "(the gradient in sigma) is (N/x) times it, with e^u cancelled out of N/x",
    priority=745,
)

log1p_positive_opt = Rewrite(
    "log1p_positive",
    lambda e: isinstance(e, log1p) and isinstance(e.args[0], sp.Mul) and e.args[0].is_nonnegative,
    lambda e: Log1pPositive(e.args[0]),
    "log1p(r^2/(nu sigma^2)) is inf once the ratio overflows (1e40 in float32) though its log is 92; "
    "where the product overflows, softplus of its log (a sum of logs) takes over",
    priority=710,
)


def _x_exp_value(e):
    exps = [f for f in e.args if isinstance(f, sp.exp)]
    numbers = [f for f in e.args if f.is_number]
    factors = [f for f in e.args if f is not exps[0] and not f.is_number]
    return sp.Mul(*numbers) * XExp(exps[0].args[0], *factors)


def _is_x_exp(e) -> bool:
    if not isinstance(e, sp.Mul):
        return False
    exps = [f for f in e.args if isinstance(f, sp.exp)]
    return len(exps) == 1 and any(not f.is_number for f in e.args if f is not exps[0])


x_exp_opt = Rewrite(
    "x_exp",
    _is_x_exp,
    _x_exp_value,
    "k y e^-z overflows at z = -710 even where y = 1e-300 makes the product finite (Gamma with a log "
    "link), and k y underflows in float32 before e^-z could rescue it; the product is formed in "
    "mantissa and exponent where the plain one over- or underflows",
    priority=420,
)


def _quotient_log(e):
    """log(q) as a sum of logs when e is XLogY(x, q), q a product of powers of inputs with a
    division among them, else None."""
    if not isinstance(e, XLogY):
        return None
    q = e.args[1]
    factors = sp.Mul.make_args(q)
    if len(factors) < 2 or not any(isinstance(f, sp.Pow) and f.exp.is_negative for f in factors):
        return None
    if not all(isinstance(f.base if isinstance(f, sp.Pow) else f, (sp.Symbol, sp.Indexed)) and f.is_nonnegative
               for f in factors):
        return None
    return sp.Add(*(f.exp * sp.log(f.base) if isinstance(f, sp.Pow) else sp.log(f) for f in factors))


def _quotient_value(e):
    """x log(a/b) as XMul(x, LogRatio(a, b)) for one quotient of two inputs (the log of the quotient
    where it neither under- nor overflows), else as x times the sum of the factors' logs."""
    factors = sp.Mul.make_args(e.args[1])
    if len(factors) == 2:
        num = [f for f in factors if not (isinstance(f, sp.Pow) and f.exp.is_negative)]
        den = [f for f in factors if isinstance(f, sp.Pow) and f.exp == -1]
        if len(num) == 1 and len(den) == 1 and not isinstance(num[0], sp.Pow):
            return XMul(e.args[0], LogRatio(num[0], den[0].base))
    return XMul(e.args[0], _quotient_log(e))


def _log_pair(e):
    """c log(s) + XLogY(d, y) + rest as XLogY(d, y/s) + (c + d) log(s) + rest, when c + d is a
    number and s > 0, else None: the Weibull's k log(lambda) + (1 - k) log y, whose two terms
    of 1.8e9 at k = 1e8 cancel to about log y where y = lambda."""
    if not isinstance(e, sp.Add):
        return None
    logs = [t for t in e.args if _scaled_log(t) is not None]
    xlogys = [t for t in e.args if isinstance(t, XLogY)]
    for t in logs:
        c, s_ = _scaled_log(t)
        for x in xlogys:
            d, y = x.args
            total = sp.expand(c + d)
            if total.is_number and c.free_symbols and y != s_:
                rest = sp.Add(*(u for u in e.args if u is not t and u is not x))
                return XLogY(d, y / s_) + total * sp.log(s_) + rest
    return None


def _scaled_log(t):
    """(c, s) when t = c log(s) with s a positive input and c not a number, else None."""
    c, f = t.as_independent(sp.log, as_Add=False)
    if isinstance(f, sp.log) and isinstance(f.args[0], (sp.Symbol, sp.Indexed)) and f.args[0].is_positive \
            and not c.is_number:
        return c, f.args[0]
    return None


log_pair_opt = Rewrite(
    "log_pair",
    lambda e: _log_pair(e) is not None,
    # c log s + d log y = d log(y/s) + (c + d) log s: exactly equal for s > 0 (and y = 0 alike)
    _log_pair,
    "k log(lambda) - (k - 1) log y cancels 1.8e9 to log y at k = 1e8, y = lambda (relative error 2e-7 "
    "in the Weibull NLL); (1 - k) log(y/lambda) is exactly 0 there and keeps the digits near it",
    priority=412,
)


xlogy_quotient_opt = Rewrite(
    "xlogy_quotient",
    lambda e: _quotient_log(e) is not None,
    # x log(a/b) = x (log a - log b) for a >= 0, b > 0; XMul keeps 0 (-inf) = 0 where a = 0
    _quotient_value,
    "x log(y/lam) is x log(0) = -inf once y/lam underflows (1e-38/1e8 in float32: Weibull's gradient in k) "
    "though log y - log lam is -106; the log of each input does not underflow",
    priority=415,
)


def _absorbed(x, one_plus):
    """x + x XExp(u, fs) with x cancelled inside when one_plus is 1 + XExp(u, fs) and XExp holds
    1/x among its factors or -log x in its exponent, else None."""
    if not (isinstance(one_plus, sp.Add) and len(one_plus.args) == 2 and sp.S.One in one_plus.args):
        return None
    xe = next(t for t in one_plus.args if t != sp.S.One)
    if not isinstance(xe, XExp) or not x.free_symbols:
        return None
    u, *fs = xe.args
    if 1 / x in fs:
        fs.remove(1 / x)
    else:
        logs = {sp.log(x), log1p(x - 1)}
        minus = [t for t in sp.Add.make_args(u) if -t in logs]
        if not minus:
            return None
        u = u - minus[0]
    return x + (XExp(u, *fs) if fs else sp.exp(u))


def _absorb_parts(m):
    """(x, 1 + XExp(...), exponent) for a product holding x^e and (1 + XExp(...))^e, else None."""
    if not isinstance(m, sp.Mul):
        return None
    powers = [(f.base, f.exp) if isinstance(f, sp.Pow) else (f, sp.S.One) for f in m.args]
    for base, e in powers:
        if not (isinstance(base, sp.Add) and base.has(XExp)):
            continue
        for x, e2 in powers:
            if x is not base and e2 == e and not x.is_number and _absorbed(x, base) is not None:
                return x, base, e
    return None


def _absorb(m):
    x, one_plus, e = _absorb_parts(m)
    rest = [f for f in m.args if f not in (x**e, one_plus**e)]
    return sp.Mul(*rest, _absorbed(x, one_plus) ** e)


absorb_into_exp_opt = Rewrite(
    "absorb_into_exp",
    lambda e: _absorb_parts(e) is not None,
    # x (1 + XExp(u, 1/x, ...)) = x + XExp(u, ...), and x (1 + XExp(u - log x, ...)) = x + XExp(u, ...), x > 0
    _absorb,
    "the derivative of logaddexp(log pi, b) in pi is 1/(pi (1 + e^b / pi)): 0 * inf = nan at pi = 0 (a "
    "zero-inflated model with no inflation); 1/(pi + e^b) is its value there",
    priority=425,
)


def _double_double_base(b) -> bool:
    """A base the backends can carry exactly: inputs, their differences, absolute values and quotients."""
    if isinstance(b, (sp.Symbol, sp.Indexed)) or b.is_number:
        return True
    if isinstance(b, sp.Abs):
        return _double_double_base(b.args[0])
    if isinstance(b, sp.Add):
        return len(b.args) == 2 and all(_double_double_base(t) for t in b.args)
    if isinstance(b, sp.Mul):
        return all(_double_double_base(f.base if isinstance(f, sp.Pow) and f.exp == -1 else f) for f in b.args)
    return False


pow_exact_base_opt = Rewrite(
    "pow_exact_base",
    lambda e: isinstance(e, sp.Pow) and e.exp.free_symbols and e.base.is_nonnegative and _double_double_base(e.base),
    lambda e: PowExactBase(e.base, e.exp),
    "a power beta = 1e8 multiplies the rounding of its base by 1e8: |y - mu|^beta with y - mu rounded once "
    "is off by 1e-8 (float64) or 170% (float32); the base is carried as a double-double",
    priority=500,
)


_powm1 = FuncMinusOneOptim(PowExactBase, PowM1ExactBase)  # SymPy's f(x) - 1 machinery, our function

def _powm1_form(e):
    """e with a power of an exact base beside a number (x^k - 1), its common factor taken out
    first (k - k x^k = k (1 - x^k), as the Weibull's gradient in lambda comes), else None."""
    if not (isinstance(e, sp.Add) and e.has(PowExactBase)):
        return None
    if any(t.is_number for t in e.args):
        return e
    factored = sp.factor_terms(e)
    inner = [f for f in sp.Mul.make_args(factored) if isinstance(f, sp.Add)]
    if factored != e and len(inner) == 1 and inner[0].has(PowExactBase) and any(t.is_number for t in inner[0].args):
        return factored
    return None


powm1_opt = Rewrite(
    "powm1",
    lambda e: _powm1_form(e) is not None,
    lambda e: ReplaceOptim.__call__(_powm1, _powm1_form(e)),
    "1 - (y/lam)^k is 1 - (1 - 7e-6) for k = 1e-8: five digits gone; expm1(k log(y/lam)) keeps them",
    priority=510,
)


log_split_opt = Rewrite(
    "log_split",
    lambda e: isinstance(e, sp.log) and isinstance(e.args[0], (sp.Mul, sp.Pow)) and sp.expand_log(e) != e,
    lambda e: sp.expand_log(e),  # only where SymPy knows the factors are positive
    "log(sigma^2) is log(0) = -inf once sigma^2 underflows (sigma < 1e-162, or 1e-23 in float32); "
    "2 log(sigma) is not, and neither overflows at sigma = 1e200",
    priority=600,
)

def _has_inner_fraction(e) -> bool:
    """A rational product with a sum in its denominator that holds a fraction itself:
    x / (b (1 + a / c))."""
    if not isinstance(e, sp.Mul) or e.atoms(sp.Function) or e.has(sp.Sum):
        return False
    return any(
        isinstance(f, sp.Pow) and f.exp.is_negative and isinstance(f.base, sp.Add)
        and any(isinstance(g, sp.Pow) and g.exp.is_negative and not g.base.is_number for t in f.base.args for g in sp.Mul.make_args(t))
        for f in e.args
    )


def _cleared(e):
    out = tidy(e)  # factored with each difference of inputs held whole: (y - mu)^2 is never expanded
    return e if any(_has_inner_fraction(m) for m in sp.preorder_traversal(out)) else out


inner_fraction_opt = Rewrite(
    "inner_fraction",
    _has_inner_fraction,
    _cleared,
    "Student-t's r^2 (nu + 1) / (nu^2 sigma^2 (1 + r^2/(nu sigma^2))) is inf/inf = nan once r^2/sigma^2 overflows "
    "(1e40 in float32 at r = 1e8, sigma = 1e-8); cleared, (nu + 1) r^2 / (nu (nu sigma^2 + r^2)) is a ratio of "
    "sums of in-range terms",
    priority=650,
)

# The rules, in increasing priority. Order matters, and each rule's priority says where it goes:
#   100s  logs of sigmoids and sums of exponentials name their function (log(1 + e^z) must become
#         softplus before log1p sees it: log1p(e^z) overflows); logs of normal tails (log Phi, log erfc)
#         and of 1 - e^x, e^x - 1 likewise; then 0 * inf = 0 for zero weights;
#   200s  log-gamma, log-beta and log-binomial forms, then the Poisson saddle point (240), the gamma
#         NLL and deviance (250, 255);
#   300s  log cosh, log I0, log I_nu of any other order (log_i0_cos after log_i0);
#   400s  products with a log (xlogy) or an exp;        500s  powers of an exact base, then powm1;
#   600   splitting logs of products;                   700s  SymPy's log1p / expm1 / cosm1, last, on what is left,
#         then log1p_negexp on what log1p made of log(1 - e^x).
STABLE: tuple[Rewrite, ...] = tuple(
    sorted((rule for rule in list(globals().values()) if isinstance(rule, Rewrite)), key=lambda rule: rule.priority)
)


def stabilize(expr: sp.Expr, rules=STABLE) -> sp.Expr:
    """Apply every rule in order; the result is exactly equal to ``expr``."""
    for rule in rules:
        expr = rule(expr)
    return expr


__all__ = ["Rewrite", "STABLE", "stabilize", "log1p", "expm1", "logaddexp", "cosm1", *(r.name + "_opt" for r in STABLE)]
