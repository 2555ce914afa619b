"""Loop assembly and the numba helpers for the fused CPU backend (no SymPy).

A fused kernel is one pass over memory: each thread (one per core, the
jitted loop releases the GIL) takes a contiguous chunk of observations, evaluates the loss element by element into a block of 512
values that stays in L1 cache, and adds the block to a float64 accumulator
(so float32 inputs never drift). Per-row reductions of event losses (the
row max and sum of exponentials of a LogSumExp, the sums over the event
axis) are computed the same way, one row at a time. No full-size
temporary is ever made.

The loops are generated as Python source from the printed fragments that
``scalar_codegen.pieces`` made (kept in the kernel cache), one variant per
input layout (array or scalar per input; parallel or not), and jitted on
first use.
"""

from __future__ import annotations

import builtins
import math
import threading

import numba
import numpy as np
from numba import njit

from ._vecmath import _INF, _NAN, vexp, vlog, vlog1p

BLOCK = 512  # values evaluated before each add into the accumulator: 4 KiB, in L1
PARALLEL_MIN = 1 << 15  # below this many elements, threads cost more than they save
_jit = njit(inline="always", error_model="numpy")


@njit(fastmath={"reassoc", "nsz"}, error_model="numpy")
def _block_sum(buf, m):
    # reassoc only here (lets LLVM keep several SIMD partial sums); the values
    # themselves are computed without fastmath.
    acc = 0.0
    for j in range(m):
        acc += buf[j]
    return acc


@njit(fastmath={"nnan", "nsz", "reassoc"}, error_model="numpy")
def _row_max(x, r, C):
    m = -_INF
    for k in range(C):
        v = float(x[r, k])
        m = v if v > m else m
    return m


@_jit
def _softplus(z):
    return max(z, 0.0) + vlog1p(vexp(-abs(z)))


@_jit
def _sigmoid(z):
    # exp of a non-positive number only: no overflow for z = -1000.
    e = vexp(-abs(z))
    return 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)


@_jit
def _xlogy(x, y):
    # 0 log 0 = 0: a zero weight on a zero probability costs nothing, not nan.
    return 0.0 if x == 0 else x * vlog(y)


@_jit
def _xlog1py(x, y):
    return 0.0 if x == 0 else x * vlog1p(y)


def _scalar(f):
    return njit(inline="always", error_model="numpy")(lambda x: f(x))


NAMESPACE = {
    "np": np,
    "_BLOCK": BLOCK,
    "_INF": _INF,
    "_NAN": _NAN,
    "_block_sum": _block_sum,
    "_row_max": _row_max,
    "_exp": vexp,
    "_log": vlog,
    "_log1p": vlog1p,
    "_softplus": _softplus,
    "_sigmoid": _sigmoid,
    "_xlogy": _xlogy,
    "_xlog1py": _xlog1py,
    # No vector forms of these: libm, one element at a time (still one pass).
    "_expm1": _scalar(math.expm1),
    "_sqrt": _scalar(math.sqrt),
    "_lgamma": _scalar(math.lgamma),
    "_sin": _scalar(math.sin),
    "_cos": _scalar(math.cos),
    "_tanh": _scalar(math.tanh),
    "_cosh": _scalar(math.cosh),
    "_atan": _scalar(math.atan),
    "_erf": _scalar(math.erf),
    "_erfc": _scalar(math.erfc),
}


def loop_source(form: dict, layouts: dict, mode: str) -> str:
    """Source of ``chunk`` (serial, over rows [lo, hi)) and ``par`` (threads over chunks).

    ``layouts``: input name -> "a" (one value per observation, 1-D), "s" (a
    scalar), "e" (event array, 2-D rows x C) or "i" (class indices, 1-D ints).
    ``mode``: "sum" returns the float64 sum; "none" writes ``out``.
    """
    names = list(layouts)
    sig = ", ".join(names)
    out_arg = "out, " if mode == "none" else ""
    event = bool(form["lse"] or form["sums"] or form["gathers"])
    nt = len(form["lse"]) + len(form["sums"])
    L = []
    w = L.append
    w(f"def chunk(lo, hi, C, {out_arg}{sig}):")
    w("    K_ = float(C)")
    for n in form["row_names"]:
        if layouts.get(n) == "s":
            w(f"    v_{n} = float({n})")
    if nt:
        w("    ebuf = np.empty((%d, max(C, 1)))" % nt)
    if mode == "sum":
        w("    rbuf = np.empty(_BLOCK)")
        w("    acc = 0.0")
    w("    for b0 in range(lo, hi, _BLOCK):")
    w("        nb = min(_BLOCK, hi - b0)")
    w("        for j in range(nb):")
    w("            r = b0 + j")
    body = "            "
    for n in form["row_names"]:
        if layouts.get(n) == "a":
            w(f"{body}v_{n} = float({n}[r])")
    # LogSumExp = m + log1p(s) with s the sum of exp(z - m) over all but one
    # maximal entry: log1p keeps the digits of a tiny s (a confident right answer
    # has a loss of e^-30, not 0), and every exponent is <= 0 (no overflow).
    for i, x in enumerate(form["lse"]):
        w(f"{body}top{i} = _row_max({x}, r, C)")
        w(f"{body}m{i} = top{i} if abs(top{i}) < _INF else 0.0  # an all -inf row: every exp(z - 0) is 0")
        w(f"{body}nmax{i} = 0")
    if nt:
        w(f"{body}for k in range(C):")
        used = set(form["event_names"])
        for n in sorted(used):
            w(f"{body}    v_{n}_k = float({n}[r, k])")
        for i, x in enumerate(form["lse"]):
            w(f"{body}    ebuf[{i}, k] = _exp(v_{x}_k - m{i}) if v_{x}_k < m{i} else 0.0")
            w(f"{body}    nmax{i} += 1 if v_{x}_k >= m{i} else 0")
        for j, s in enumerate(form["sums"]):
            w(f"{body}    ebuf[{len(form['lse']) + j}, k] = {s}")
        for i in range(len(form["lse"])):
            w(f"{body}s{i} = _block_sum(ebuf[{i}], C) + float(nmax{i} - 1)")
            w(f"{body}s{i} = _INF if top{i} == _INF else s{i}")
        for j in range(len(form["sums"])):
            w(f"{body}t_sum{j} = _block_sum(ebuf[{len(form['lse']) + j}], C)")
    for g in form["gathers"]:
        w(f"{body}yi = y[r]")
        w(f"{body}v_{g}__at_y = float({g}[r, yi]) if (yi >= 0 and yi < C) else _NAN  # never read out of bounds")
    if mode == "sum":
        w(f"{body}rbuf[j] = {form['row']}")
        w("        acc += _block_sum(rbuf, nb)")
        w("    return acc")
    else:
        w(f"{body}out[r] = {form['row']}")
        w("    return 0.0")
    del event
    return "\n".join(L) + "\n"


_compiled: dict = {}
_lock = threading.Lock()
_pool = None


def function(form: dict, layouts: dict, mode: str, label: str):
    """The jitted loop ``chunk(lo, hi, C, [out,] *inputs)`` for this form, layout and mode
    (compiled once per process; it releases the GIL, so threads run chunks side by side)."""
    key = (repr(sorted(form.items())), tuple(layouts.items()), mode)
    fn = _compiled.get(key)
    if fn is None:
        with _lock:
            fn = _compiled.get(key)
            if fn is None:
                source = loop_source(form, layouts, mode)
                ns = dict(NAMESPACE)
                exec(builtins.compile(source, f"<symlik fused kernel {label}>", "exec"), ns)  # noqa: S102 - generated here
                fn = _compiled[key] = njit(error_model="numpy", nogil=True)(ns["chunk"])
    return fn


def threads() -> int:
    return numba.config.NUMBA_NUM_THREADS


def run(fn, n: int, C: int, args: tuple, parallel: bool) -> float:
    """fn over rows [0, n): in one call, or split over a thread per core (GIL released)."""
    if not parallel:
        return fn(0, n, C, *args)
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                from concurrent.futures import ThreadPoolExecutor

                _pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="symlik-fused")
    t = threads()
    bounds = [n * i // t for i in range(t + 1)]
    futures = [_pool.submit(fn, bounds[i], bounds[i + 1], C, *args) for i in range(1, t)]
    total = fn(bounds[0], bounds[1], C, *args)  # this thread takes the first chunk
    for f in futures:  # added in a fixed order: the same inputs give the same bits
        total += f.result()
    return total
