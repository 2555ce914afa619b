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

import numpy as np

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


# -- float32: eight lanes per AVX register instead of four -------------------------------
# The same algorithms with float32 constants (numba types a bare literal as
# float64, which would promote every operation): musl's expf/logf reductions,
# Taylor to degree 7 for e^r (error < 1.3e-8, under half an ulp).
@intrinsic
def _bits32(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _from_bits32(typingctx, i):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


_f = np.float32
_F0, _F1, _F2, _FHALF = _f(0.0), _f(1.0), _f(2.0), _f(0.5)
_INV_LN2_F = _f(1.4426950408889634)
_LN2_HI_F = _f(6.9313812256e-01)
_LN2_LO_F = _f(9.0580006145e-06)
_SHIFT_F = _f(12582912.0)  # 1.5 * 2^23
_EXP_MAX_F = _f(88.72283)
_EXP_MIN_F = _f(-103.97208)
_TINY_F = _f(1.17549435e-38)
_TWO23_F = _f(8388608.0)
_INF_F = _f(np.inf)
_NAN_F = _f(np.nan)
_E = tuple(_f(1.0 / math.factorial(j)) for j in range(8))
_Lg1_F, _Lg2_F, _Lg3_F, _Lg4_F = _f(0.66666662693), _f(0.40000972152), _f(0.28498786688), _f(0.24279078841)


@_jit
def vexp32(x):
    x = np.float32(x)
    kd = x * _INV_LN2_F + _SHIFT_F
    k = np.int64(_bits32(kd)) - np.int64(_bits32(_SHIFT_F))
    kd = kd - _SHIFT_F
    r = x - kd * _LN2_HI_F
    r = r - kd * _LN2_LO_F
    r2 = r * r
    p = (_E[2] + r * _E[3]) + r2 * (_E[4] + r * _E[5]) + (r2 * r2) * (_E[6] + r * _E[7])
    p = (p * r2 + r) + _F1
    k1 = k >> 1
    s1 = _from_bits32(np.int32((k1 + 127) << 23))
    s2 = _from_bits32(np.int32((k - k1 + 127) << 23))
    out = p * s1 * s2
    out = _INF_F if x > _EXP_MAX_F else out
    return _F0 if x < _EXP_MIN_F else out


@_jit
def vlog32(x):
    x = np.float32(x)
    subnormal = x < _TINY_F
    xs = x * _TWO23_F if subnormal else x
    e0 = -23 if subnormal else 0
    b = np.int64(_bits32(xs)) + (0x3F800000 - 0x3F3504F3)
    e = (b >> 23) - 127 + e0
    f = _from_bits32(np.int32((b & 0x007FFFFF) + 0x3F3504F3)) - _F1
    s = f / (_F2 + f)
    z = s * s
    w = z * z
    R = z * (_Lg1_F + w * _Lg3_F) + w * (_Lg2_F + w * _Lg4_F)
    hfsq = _FHALF * f * f
    dk = np.float32(e)
    out = s * (hfsq + R) + dk * _LN2_LO_F - hfsq + f + dk * _LN2_HI_F
    out = out if x < _INF_F else x
    out = -_INF_F if x == _F0 else out
    return _NAN_F if x < _F0 else out


@_jit
def vlog1p32(u):
    u = np.float32(u)
    w = _F1 + u
    correction = (u - (w - _F1)) / w if (w > _F0 and w < _INF_F) else _F0
    return vlog32(w) + correction
