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
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

from symlik.compiler._vecmath import _INF, _NAN, vexp, vexp32, vlog, vlog1p, vlog1p32, vlog32

BLOCK = 512  # values evaluated before each add into the accumulator: 4 KiB, in L1
PARALLEL_MIN = 1 << 15  # below this many elements, threads cost more than they save
_jit = njit(inline="always", error_model="numpy")


@njit(fastmath={"reassoc", "nsz"}, error_model="numpy")
def _block_sum(buf, m):
    # reassoc only here (lets LLVM keep several SIMD partial sums); the values
    # themselves are computed without fastmath. float32 values add into float64.
    acc = 0.0
    for j in range(m):
        acc += np.float64(buf[j])
    return acc


@njit(fastmath={"nnan", "nsz", "reassoc"}, error_model="numpy")
def _row_max(x, r, C):
    m = -_INF
    for k in range(C):
        v = float(x[r, k])
        m = v if v > m else m
    return m


@njit(error_model="numpy")
def _first_equal(x, r, C, v):
    # Where the row max sits: a short scalar scan that stops at the first hit.
    for k in range(C):
        if x[r, k] == v:
            return k
    return 0


def _stable_helpers(exp, log, log1p, F):
    """softplus, sigmoid, xlogy, xlog1py over one precision's exp/log (F: its float type)."""
    zero, one = F(0.0), F(1.0)

    @_jit
    def softplus(z):
        z = F(z)
        return max(z, zero) + log1p(exp(-abs(z)))

    @_jit
    def sigmoid(z):
        # exp of a non-positive number only: no overflow for z = -1000.
        z = F(z)
        e = exp(-abs(z))
        return one / (one + e) if z >= zero else e / (one + e)

    @_jit
    def xlogy(x, y):
        # 0 log 0 = 0: a zero weight on a zero probability costs nothing, not nan.
        x = F(x)
        return zero if x == zero else x * log(y)

    @_jit
    def xlog1py(x, y):
        x = F(x)
        return zero if x == zero else x * log1p(y)

    return {"_softplus": softplus, "_sigmoid": sigmoid, "_xlogy": xlogy, "_xlog1py": xlog1py}


def _normal_tail_helpers(F):
    """log erfc, log Phi and phi/Phi as functions of their own, in float64 (then F), with the ranges of
    core.functions' LogErfc, LogNdtr and InverseMills basic forms. Called, not inlined: written out inline,
    an interval-censored log-normal's four log Phi are 80 nested branches, and numba's liveness
    analysis over that many blocks took more than 20 GB."""
    log_sqrt_pi, log_2, inv_sqrt_2 = 0.5723649429247001, 0.6931471805599453, 0.7071067811865476
    sqrt_2_over_pi = 0.7978845608028654

    @njit(error_model="numpy")
    def log_erfc(x):
        x = float(x)
        if abs(x) < 0.5:  # erfc(x) is near 1: log1p(-erf x) keeps the digits log(erfc x) rounds away
            return F(math.log1p(-math.erf(x)))
        if x < 25.0:
            return F(math.log(math.erfc(x)))
        # erfc underflows past 26.5: -x^2 - log(x sqrt(pi)) + log1p of the asymptotic series
        u = 1.0 / (x * x)
        series = u * (-0.5 + u * (0.75 + u * (-1.875 + u * (6.5625 + u * (-29.53125 + u * 162.421875)))))
        return F(-x * x - math.log(x) + math.log1p(series) - log_sqrt_pi)

    @njit(error_model="numpy")
    def log_ndtr(x):
        x = float(x)
        if x > -1.0:  # the upper tail as log1p(-Phi(-x)): log(Phi(x)) rounds to 0 past x = 8.3
            return F(math.log1p(-0.5 * math.erfc(x * inv_sqrt_2)))
        return F(float(log_erfc(-x * inv_sqrt_2)) - log_2)

    @njit(error_model="numpy")
    def inverse_mills(x):
        x = float(x)
        if x > -35.0:  # phi and Phi are normal numbers: their quotient (InverseMills' first range)
            return F(sqrt_2_over_pi * math.exp(-0.5 * x * x) / math.erfc(-x * inv_sqrt_2))
        # -x / (1 + sum_n (-1)^n (2n-1)!! / x^(2n)), seven terms: the series of the second range
        u = 1.0 / (x * x)
        series = u * (-1.0 + u * (3.0 + u * (-15.0 + u * (105.0 + u * (-945.0 + u * (10395.0 - u * 135135.0))))))
        return F(-x / (1.0 + series))

    return {"_log_erfc": log_erfc, "_log_ndtr": log_ndtr, "_inverse_mills": inverse_mills}


def _libm(f, F):
    # No vector forms of these: libm, one element at a time (still one pass).
    return njit(inline="always", error_model="numpy")(lambda x: F(f(x)))


def _namespace(F, exp, log, log1p):
    ns = {
        "np": np,
        "_F": F,
        "_BLOCK": BLOCK,
        "_INF": _INF,
        "_NAN": _NAN,
        "_block_sum": _block_sum,
        "_row_max": _row_max,
        "_first_equal": _first_equal,
        "_exp": exp,
        "_log": log,
        "_log1p": log1p,
        **_stable_helpers(exp, log, log1p, F),
        **_normal_tail_helpers(F),
    }
    for name, f in (("_expm1", math.expm1), ("_sqrt", math.sqrt), ("_lgamma", math.lgamma), ("_sin", math.sin),
                    ("_cos", math.cos), ("_tanh", math.tanh), ("_cosh", math.cosh), ("_atan", math.atan),
                    ("_erf", math.erf), ("_erfc", math.erfc)):
        ns[name] = _libm(f, F)
    return ns


# Each precision computes in its own type: float32 loops use the float32 vector math
# (eight SIMD lanes); sums are float64 either way.
NAMESPACES = {
    "float64": _namespace(np.float64, vexp, vlog, vlog1p),
    "float32": _namespace(np.float32, vexp32, vlog32, vlog1p32),
}


def loop_source(form: dict, layouts: dict, mode: str, tests: dict | None = None) -> str:
    """Source of ``chunk(lo, hi, C, [out,] *inputs)``: the loss over observations [lo, hi).

    ``layouts``: input name -> "a" (one value per observation, 1-D), "s" (a
    scalar), "e" (event array, 2-D rows x C), "i" (class indices, 1-D ints) or
    "b" (a broadcast view, 2-D: the observations' leading axes x the last axis,
    with zero strides where the input repeats: read in place, never copied).
    ``mode``: "sum" returns the float64 sum; "none" writes ``out``.
    ``tests``: input name -> a scalar expression over ``{x}`` that is true where a value
    passes the input's check (``checks.element_test``), evaluated in the same pass.
    Returns ``(sum or 0.0, whether any value broke its check)``.
    """
    tests = {n: t for n, t in (tests or {}).items() if layouts.get(n) in ("a", "e", "i", "b")}
    names = list(layouts)
    sig = ", ".join(names)
    out_arg = "out, " if mode == "none" else ""
    event = bool(form["lse"] or form["sums"] or form["gathers"])
    nt = len(form["lse"]) + len(form["sums"])
    L = []
    w = L.append
    w(f"def chunk(lo, hi, C, {out_arg}{sig}):")
    w("    K_ = _F(C)")
    for n in form["row_names"]:
        if layouts.get(n) == "s":
            w(f"    v_{n} = _F({n})")
    if nt:
        w("    ebuf = np.empty((%d, max(C, 1)), _F)" % nt)
    if mode == "sum":
        w("    rbuf = np.empty(_BLOCK, _F)  # the working precision: float32 loops stay 8 lanes wide")
        w("    acc = 0.0")
    # Validation in the pass: one flag, or-ed per value (no branch, so the loop stays vectorised);
    # the caller builds the report (first offending index, argument, rule) only when it is set.
    w("    bad_ = False")
    if "b" in layouts.values():
        w("    cols_ = max(%s.shape[1], 1)" % next(n for n in names if layouts[n] == "b"))
        for n in names:
            if layouts[n] == "b":
                w(f"    bbuf_{n} = np.empty(_BLOCK, {n}.dtype)")
    w("    for b0 in range(lo, hi, _BLOCK):")
    w("        nb = min(_BLOCK, hi - b0)")
    # Views of this block, indexed by the loop counter j: numba then knows every
    # index is >= 0 and drops its negative-index wraparound, which would cost
    # more than the arithmetic of a cheap loss (2.5x on float32 mse).
    for n in names:
        if layouts[n] != "s" and layouts[n] != "b":
            w(f"        {n}_b = {n}[b0:b0 + nb]")
    if mode == "none":
        w("        out_b = out[b0:b0 + nb]")
    broadcast = [n for n in names if layouts[n] == "b"]
    if broadcast:
        # A broadcast view's values for this block, gathered into an L1 buffer by a short scalar
        # loop (every view has the same (rows, cols) shape): the loss loop below then reads it
        # as contiguous memory and stays vectorised, and no full-size copy is ever made.
        w("        row_ = b0 // cols_")
        w("        col_ = b0 - row_ * cols_")
        w("        for j in range(nb):")
        for n in broadcast:
            w(f"            bbuf_{n}[j] = {n}[row_, col_]")
        w("            col_ += 1")
        w("            if col_ == cols_:")
        w("                col_ = 0")
        w("                row_ += 1")
        for n in broadcast:
            w(f"        {n}_b = bbuf_{n}[:nb]")
    w("        for j in range(nb):")
    body = "            "
    for n in form["row_names"]:
        if layouts.get(n) in ("a", "b"):
            w(f"{body}v_{n} = _F({n}_b[j])")
    # LogSumExp = m + log1p(s) with s the sum of exp(z - m) over all but one
    # maximal entry: log1p keeps the digits of a tiny s (a confident right answer
    # has a loss of e^-30, not 0), and every exponent is <= 0 (no overflow).
    for i, x in enumerate(form["lse"]):
        w(f"{body}top{i} = _F(_row_max({x}_b, j, C))")
        w(f"{body}m{i} = top{i} if abs(top{i}) < _INF else _F(0.0)  # an all -inf row: every exp(z - 0) is 0")
        # A row with +inf logits: each +inf counts exp(0) = 1 and every other entry 0, so the
        # row's limit is log(number of +inf entries) - z_y with z_y as 0 (at +inf) or -inf.
        # (Only where the form gathers z_y from the same row, or sees the row only through its
        # softmax, "pinned" (symlik.compiler.shift); any other form keeps logsumexp = +inf.)
        limit = x in form["gathers"] or x in form.get("pinned", ())
        w(f"{body}pinf{i} = top{i} == _INF" + ("" if limit else " and False"))
    if nt:
        w(f"{body}for k in range(C):")
        used = set(form["event_names"])
        for n in sorted(used):
            w(f"{body}    v_{n}_k = _F({n}_b[j, k])")
        for i, x in enumerate(form["lse"]):
            if x in form.get("pinned", ()) and x in used:  # the row's limit: 0 at +inf, -inf elsewhere
                w(f"{body}    if pinf{i}:")
                w(f"{body}        v_{x}_k = _F(0.0) if v_{x}_k == _INF else _F(-_INF)")
        for i, x in enumerate(form["lse"]):
            if x in form.get("pinned", ()):  # pinned above: 0 or -inf, and m is 0 in such a row
                w(f"{body}    ebuf[{i}, k] = _exp(v_{x}_k - m{i})")
            else:
                w(f"{body}    ebuf[{i}, k] = (_F(1.0) if v_{x}_k == _INF else _F(0.0)) if pinf{i} else _exp(v_{x}_k - m{i})")
        for t, s in enumerate(form["sums"]):
            w(f"{body}    ebuf[{len(form['lse']) + t}, k] = {s}")
        for i, x in enumerate(form["lse"]):
            w(f"{body}ebuf[{i}, _first_equal({x}_b, j, C, top{i})] = _F(0.0)  # one maximal entry's exp(0) = 1 left out")
            w(f"{body}s{i} = _F(_block_sum(ebuf[{i}], C))")
            w(f"{body}s{i} = _F(-1.0) if top{i} == -_INF else (_F(_INF) if (top{i} == _INF and not pinf{i}) else s{i})")
        for t in range(len(form["sums"])):
            w(f"{body}t_sum{t} = _F(_block_sum(ebuf[{len(form['lse']) + t}], C))")
    for g in form["gathers"]:
        w(f"{body}yi = y_b[j]")
        w(f"{body}v_{g}__at_y = _F({g}_b[j, yi]) if (yi >= 0 and yi < C) else _F(_NAN)  # never read out of bounds")
        if g in form["lse"]:
            i = form["lse"].index(g)
            w(f"{body}if pinf{i}:")
            w(f"{body}    v_{g}__at_y = _F(0.0) if v_{g}__at_y == _INF else _F(-_INF)")
    per_value = [t.format(x=f"{n}_b[j]") for n, t in tests.items() if layouts[n] != "e"]
    if per_value:  # one negation per observation, whatever the number of inputs
        w(f"{body}bad_ |= not (" + " & ".join(per_value) + ")")
    for n, t in tests.items():
        if layouts[n] == "e":
            w(f"{body}for k in range(C):")
            w(f"{body}    bad_ |= not " + t.format(x=f"{n}_b[j, k]"))
    if mode == "sum":
        w(f"{body}rbuf[j] = {form['row']}")
        w("        acc += _block_sum(rbuf, nb)")
        w("    return acc, bad_")
    else:
        w(f"{body}out_b[j] = {form['row']}")
        w("    return 0.0, bad_")
    del event
    return "\n".join(L) + "\n"


def entries_loop_source(forms: list, layouts: dict, weighted: bool) -> str:
    """Source of ``chunk(lo, hi, C, out, [weight,] *inputs)`` writing every entry of a vector or
    matrix target (grad_hess: gradient and Hessian) in one pass: ``out[e, i]`` is entry ``e`` of
    observation ``i``, so each entry's values are contiguous (a boosting library takes them as
    they are), and a weight multiplies each as it is written. Scalar forms only (no event axis):
    each observation's inputs are read once for all entries."""
    names = list(layouts)
    L = []
    w = L.append
    w(f"def chunk(lo, hi, C, out, {'weight, ' if weighted else ''}{', '.join(names)}):")
    w("    K_ = _F(C)")
    row_names = sorted({n for f in forms for n in f["row_names"]})
    for n in row_names:
        if layouts.get(n) == "s":
            w(f"    v_{n} = _F({n})")
    w("    for b0 in range(lo, hi, _BLOCK):")
    w("        nb = min(_BLOCK, hi - b0)")
    for n in names:  # views of this block: non-negative indices, no wraparound checks (see loop_source)
        if layouts[n] != "s":
            w(f"        {n}_b = {n}[b0:b0 + nb]")
    for e in range(len(forms)):
        w(f"        out{e}_b = out[{e}, b0:b0 + nb]")
    if weighted:
        w("        weight_b = weight[b0:b0 + nb]")
    w("        for j in range(nb):")
    body = "            "
    for n in row_names:
        if layouts.get(n) == "a":
            w(f"{body}v_{n} = _F({n}_b[j])")
    for e, f in enumerate(forms):
        w(f"{body}out{e}_b[j] = ({f['row']}) * _F(weight_b[j])" if weighted else f"{body}out{e}_b[j] = {f['row']}")
    w("    return 0.0, False")  # run() takes (sum, whether a check broke); this loop has no in-pass checks
    return "\n".join(L) + "\n"


def entries_function(forms: list, layouts: dict, label: str, precision: str, weighted: bool):
    """The jitted one-pass loop of ``entries_loop_source`` (compiled once per process)."""
    key = ("entries", tuple(repr(sorted(f.items())) for f in forms), tuple(layouts.items()), precision, weighted)
    fn = _compiled.get(key)
    if fn is None:
        with _lock:
            fn = _compiled.get(key)
            if fn is None:
                source = entries_loop_source(forms, layouts, weighted)
                ns = dict(NAMESPACES[precision])
                exec(builtins.compile(source, f"<symlik fused kernel {label}>", "exec"), ns)  # noqa: S102 - generated here
                fn = _compiled[key] = njit(error_model="numpy", nogil=True)(ns["chunk"])
    return fn


_compiled: dict = {}
_lock = threading.Lock()
_pool = None


def function(form: dict, layouts: dict, mode: str, label: str, precision: str = "float64", tests: dict | None = None):
    """The jitted loop ``chunk(lo, hi, C, [out,] *inputs)`` for this form, layout, mode and
    working precision (compiled once per process; it releases the GIL, so threads run
    chunks side by side)."""
    key = (repr(sorted(form.items())), tuple(layouts.items()), mode, precision, repr(sorted((tests or {}).items())))
    fn = _compiled.get(key)
    if fn is None:
        with _lock:
            fn = _compiled.get(key)
            if fn is None:
                source = loop_source(form, layouts, mode, tests)
                ns = dict(NAMESPACES[precision])
                exec(builtins.compile(source, f"<symlik fused kernel {label}>", "exec"), ns)  # noqa: S102 - generated here
                fn = _compiled[key] = njit(error_model="numpy", nogil=True)(ns["chunk"])
    return fn


def threads() -> int:
    return numba.config.NUMBA_NUM_THREADS


def run(fn, n: int, C: int, args: tuple, parallel: bool) -> tuple:
    """fn over rows [0, n): in one call, or split over a thread per core (GIL released).
    Returns (the float64 sum, whether any value broke its check)."""
    if not parallel:
        return fn(0, n, C, *args)
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="symlik-fused")
    t = threads()
    bounds = [n * i // t for i in range(t + 1)]
    futures = [_pool.submit(fn, bounds[i], bounds[i + 1], C, *args) for i in range(1, t)]
    total, bad = fn(bounds[0], bounds[1], C, *args)  # this thread takes the first chunk
    for f in futures:  # added in a fixed order: the same inputs give the same bits
        part, part_bad = f.result()
        total += part
        bad = bad or part_bad
    return total, bad


# How a boosting surrogate replaces the (weighted) Hessian entry h, by name (event_grad_hess's
# hessian=); "exact" and "fisher" keep it.
EVENT_SURROGATES = {
    "exact": "h",
    "fisher": "h",
    "exact_clipped": "max(h, _F(0.0))",
    "softprob": "max(_F(2.0) * h, _F(1e-16))",  # XGBoost's multi:softprob floor
    "multiclass": "h * (K_ / (K_ - _F(1.0)))",  # LightGBM's multiclass factor
}


def event_entries_loop_source(fragments: dict, layouts: dict, softmax_of: str | None, weighted: bool,
                              surrogate: str) -> str:
    """Source of ``chunk(lo, hi, C, gout, hout, [weight,] *inputs)``: the gradient and the Hessian's
    diagonal over the event axis of one observation per row, both ``[n, C]``, in one pass.

    ``fragments`` holds the printed entries (``grad`` and ``hess``) in this component's names
    (``v_x_k`` for event inputs, ``v_x`` for the rest); where the entries read a softmax of
    ``softmax_of``, it is ``v_softmax_k_`` = e_k / (1 + rest), with e_k = exp(z_k - max) and rest
    the sum of e over every entry but one maximal one, and that maximal entry is then written
    again from its own fragments (``grad_top``, ``hess_top``), which read
    ``v_one_minus_softmax_k_`` = rest / (1 + rest) instead: exact where the softmax rounds to 1
    (a confident row). The loops over k have no branch, so LLVM can vectorise them. A row with a
    +inf logit is pinned as the NumPy runtime pins it (0 at +inf, -inf elsewhere)."""
    names = list(layouts)
    L = []
    w = L.append
    w(f"def chunk(lo, hi, C, gout, hout, {'weight, ' if weighted else ''}{', '.join(names)}):")
    w("    K_ = _F(C)")
    w("    ebuf = np.empty(max(C, 1), _F)")
    for n in names:
        if layouts[n] == "s":
            w(f"    v_{n} = _F({n})")
    w("    for j in range(lo, hi):")
    b = "        "
    for n in names:
        if layouts[n] == "a":
            w(f"{b}v_{n} = _F({n}[j])")
    if weighted:
        w(f"{b}wj = _F(weight[j])")

    def entry(indent, grad, hess):
        for n in names:
            if layouts[n] == "e":
                w(f"{indent}v_{n}_k = _F({n}[j, k])")
            elif layouts[n] == "i":
                w(f"{indent}v_{n}_k = _F(k == {n}[j])  # a class index as its one-hot row")
        w(f"{indent}g = {grad}")
        w(f"{indent}h = {hess}")
        if weighted:
            w(f"{indent}g = g * wj")
            w(f"{indent}h = h * wj")
        w(f"{indent}h = {EVENT_SURROGATES[surrogate]}")
        w(f"{indent}gout[j, k] = g")
        w(f"{indent}hout[j, k] = h")

    if softmax_of is None:
        w(f"{b}for k in range(C):")
        entry(b + "    ", fragments["grad"], fragments["hess"])
        w("    return 0.0, False")
        return "\n".join(L) + "\n"
    z = softmax_of
    w(f"{b}top = _F(_row_max({z}, j, C))")
    w(f"{b}itop = _first_equal({z}, j, C, top)")
    w(f"{b}if top == _INF:  # pinned: equal mass on the +inf entries, none elsewhere")
    w(f"{b}    for k in range(C):")
    w(f"{b}        ebuf[k] = _F(1.0) if {z}[j, k] == _INF else _F(0.0)")
    w(f"{b}else:")
    w(f"{b}    m = top if top > -_INF else _F(0.0)")
    w(f"{b}    for k in range(C):")
    w(f"{b}        ebuf[k] = _exp(_F({z}[j, k]) - m)")
    w(f"{b}rest = _F(0.0)")
    w(f"{b}for k in range(C):  # every e but the maximal one's (a select, not a branch)")
    w(f"{b}    rest += ebuf[k] if k != itop else _F(0.0)")
    w(f"{b}inv = _F(1.0) / (_F(1.0) + rest)")
    w(f"{b}if top == -_INF:")
    w(f"{b}    inv = _F(_NAN)  # softmax of a row of -inf only is 0/0: nan, as NumPy gives")
    w(f"{b}for k in range(C):")
    w(f"{b}    v_softmax_k_ = ebuf[k] * inv")
    entry(b + "    ", fragments["grad"], fragments["hess"])
    w(f"{b}k = itop")
    w(f"{b}v_one_minus_softmax_k_ = rest * inv")
    entry(b, fragments["grad_top"], fragments["hess_top"])
    w("    return 0.0, False")  # run() takes (sum, whether a check broke)
    return "\n".join(L) + "\n"


def event_entries_function(fragments: dict, layouts: dict, softmax_of, label: str, precision: str, weighted: bool,
                           surrogate: str):
    """The jitted loop of ``event_entries_loop_source`` (compiled once per process)."""
    key = ("event entries", tuple(sorted(fragments.items())), tuple(layouts.items()), softmax_of, precision, weighted,
           surrogate)
    fn = _compiled.get(key)
    if fn is None:
        with _lock:
            fn = _compiled.get(key)
            if fn is None:
                source = event_entries_loop_source(fragments, layouts, softmax_of, weighted, surrogate)
                ns = dict(NAMESPACES[precision])
                exec(builtins.compile(source, f"<symlik fused grad_hess {label}>", "exec"), ns)  # noqa: S102 - generated here
                fn = _compiled[key] = njit(error_model="numpy", nogil=True)(ns["chunk"])
    return fn
