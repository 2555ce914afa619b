"""Loop assembly and the numba helpers for the fused CPU backend (no SymPy).

A fused kernel is one pass over memory: each worker thread takes a chunk of
observations, evaluates the loss element by element into a block of 512
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
from numba import njit, prange

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
    "prange": prange,
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
    for i, x in enumerate(form["lse"]):
        w(f"{body}m{i} = _row_max({x}, r, C)")
        w(f"{body}m{i} = m{i} if abs(m{i}) < _INF else 0.0  # an all -inf row: exp(z - 0) = 0, as NumPy")
    if nt:
        w(f"{body}for k in range(C):")
        used = set(form["event_names"])
        for n in sorted(used):
            w(f"{body}    v_{n}_k = float({n}[r, k])")
        for i, x in enumerate(form["lse"]):
            w(f"{body}    ebuf[{i}, k] = _exp(v_{x}_k - m{i})")
        for j, s in enumerate(form["sums"]):
            w(f"{body}    ebuf[{len(form['lse']) + j}, k] = {s}")
        for i in range(len(form["lse"])):
            w(f"{body}s{i} = _block_sum(ebuf[{i}], C)")
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
    w("")
    w(f"def par(n, nch, C, {out_arg}{sig}):")
    w("    part = np.zeros(nch)")
    w("    for c in prange(nch):")
    w(f"        part[c] = chunk(c * n // nch, (c + 1) * n // nch, C, {out_arg}{sig})")
    w("    total = 0.0")
    w("    for c in range(nch):")
    w("        total += part[c]")
    w("    return total")
    del event
    return "\n".join(L) + "\n"


_compiled: dict = {}
_lock = threading.Lock()


def function(form: dict, layouts: dict, mode: str, parallel: bool, label: str):
    """The jitted loop for this form, layout and mode (compiled once per process)."""
    key = (repr(sorted(form.items())), tuple(layouts.items()), mode, parallel)
    fn = _compiled.get(key)
    if fn is None:
        with _lock:
            fn = _compiled.get(key)
            if fn is None:
                source = loop_source(form, layouts, mode)
                ns = dict(NAMESPACE)
                exec(builtins.compile(source, f"<symlik fused kernel {label}>", "exec"), ns)  # noqa: S102 - generated here
                chunk = njit(error_model="numpy")(ns["chunk"])
                ns["chunk"] = chunk
                fn = njit(parallel=True, error_model="numpy")(ns["par"]) if parallel else chunk
                _compiled[key] = fn
    return fn


def threads() -> int:
    return numba.get_num_threads()
