"""exp, log and log1p in plain float64 arithmetic, so that LLVM can vectorise them.

numba compiles ``math.exp`` to a call into libm, one element at a time; a
loop that calls it never uses SIMD. These versions are straight-line
arithmetic (range reduction, a polynomial, exponent bits set through a
bitcast), so the loop vectoriser turns a loss loop into AVX code. They are
within 1 ulp of NumPy's (tests/test_fused.py checks them against NumPy
over the whole range, subnormals and the special values included).

exp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 in two parts), e^r by
its Taylor series to degree 13 (truncation error < 2e-17), times 2^n built
from the exponent bits in two halves so that n = 1024 and subnormal results
scale correctly.
log: fdlibm's e_log.c: x = 2^e (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)),
log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f).
log1p: log(1 + u) plus the rounding error of 1 + u, (u - ((1 + u) - 1)) / (1 + u).

Compiled WITHOUT fastmath: the rounding tricks (x + 1.5 * 2^52 - 1.5 * 2^52,
u - ((1 + u) - 1)) would be simplified away by reassociation.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64, as an int64 (a register move, no memory)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_EXP_MAX = 709.782712893384  # e^x overflows above
_EXP_MIN = -745.1332191019412  # e^x is 0 below
_TINY = 2.2250738585072014e-308  # smallest normal float64
_TWO54 = 18014398509481984.0
_INF = math.inf
_NAN = math.nan

_Lg1 = 6.666666666666735130e-01
_Lg2 = 3.999999999940941908e-01
_Lg3 = 2.857142874366239149e-01
_Lg4 = 2.222219843214978396e-01
_Lg5 = 1.818357216161805012e-01
_Lg6 = 1.531383769920937332e-01
_Lg7 = 1.479819860511658591e-01

# contract (fused multiply-add) is the only fastmath flag: it keeps every rounding
# trick below valid and makes the polynomials faster and slightly more accurate.
_jit = njit(inline="always", error_model="numpy", fastmath={"contract"})


@_jit
def vexp(x):
    kd = x * _INV_LN2 + _SHIFT
    k = _bits(kd) - _bits(_SHIFT)
    kd = kd - _SHIFT
    r = x - kd * _LN2_HI
    r = r - kd * _LN2_LO
    # Estrin's scheme: short dependency chains, so SIMD lanes of neighbouring
    # iterations overlap instead of waiting on one long Horner chain.
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = 0.5 + r * (1.0 / 6.0)
    q1 = 1.0 / 24.0 + r * (1.0 / 120.0)
    q2 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    q3 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    q4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    q5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    p = (q0 + r2 * q1) + r4 * (q2 + r2 * q3) + r8 * (q4 + r2 * q5)  # sum_{j>=2} r^(j-2) / j!
    p = (p * r2 + r) + 1.0
    k1 = k >> 1
    out = p * _from_bits((k1 + 1023) << 52) * _from_bits((k - k1 + 1023) << 52)
    out = _INF if x > _EXP_MAX else out
    return 0.0 if x < _EXP_MIN else out


@_jit
def vlog(x):
    subnormal = x < _TINY
    xs = x * _TWO54 if subnormal else x
    e0 = -54 if subnormal else 0
    # Move the mantissa into [sqrt(2)/2, sqrt(2)) and take the exponent along.
    b = _bits(xs) + (0x3FF0000000000000 - 0x3FE6A09E00000000)
    e = (b >> 52) - 1023 + e0
    f = _from_bits((b & 0x000FFFFFFFFFFFFF) + 0x3FE6A09E00000000) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    R = z * (_Lg1 + w * (_Lg3 + w * (_Lg5 + w * _Lg7))) + w * (_Lg2 + w * (_Lg4 + w * _Lg6))
    dk = float(e)
    out = dk * _LN2_HI - ((hfsq - (s * (hfsq + R) + dk * _LN2_LO)) - f)
    out = out if x < _INF else x
    out = -_INF if x == 0.0 else out
    return _NAN if x < 0.0 else out


@_jit
def vlog1p(u):
    w = 1.0 + u
    correction = (u - (w - 1.0)) / w if (w > 0.0 and w < _INF) else 0.0
    return vlog(w) + correction
