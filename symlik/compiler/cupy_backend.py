"""The CuPy backend (``backend="cupy"``): each loss, and its gradient, one CUDA kernel.

Needs CuPy and a CUDA GPU. This is the runtime (no SymPy). The cached source
is JSON: the per-observation C fragments printed from SymPy by the printer
(``cuda_codegen.generate``; one form per entry for a vector or matrix
target, each its own kernel). ``kernel_source``
wraps them, for given input layouts and dtypes, into one raw kernel per
operation: the reduced loss (a grid-stride loop with a float64 accumulator
per thread, a warp-shuffle and shared-memory reduction per block and one
atomicAdd per block), the per-observation values, and the gradient. It is
plain string assembly, so the source is built and tested without a GPU.
"""

from __future__ import annotations

import json

import numpy as np

from symlik.core.errors import NotSupportedError
from symlik.compiler.xp_kernel import LibraryKernel

THREADS = 256
C_TYPES = {"float32": "float", "float64": "double", "int64": "long long", "int32": "int", "uint8": "unsigned char",
           "int8": "signed char", "int16": "short", "uint16": "unsigned short", "uint32": "unsigned int",
           "uint64": "unsigned long long", "bool": "bool"}

# Device helpers every kernel includes (stable forms, each with its reason).
PREAMBLE = r"""
#define SL_INF __longlong_as_double(0x7ff0000000000000LL)
#define SL_NAN __longlong_as_double(0x7ff8000000000000LL)
// softplus(z) = max(z, 0) + log1p(exp(-|z|)): no overflow for large |z|.
__device__ __forceinline__ double sl_softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }
// sigmoid from exp of a non-positive number only: no overflow at z = -1000.
__device__ __forceinline__ double sl_sigmoid(double z) { double e = exp(-fabs(z)); return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); }
// x log y with 0 log 0 = 0 (a zero weight on a zero probability costs nothing, not nan).
__device__ __forceinline__ double sl_xlogy(double x, double y) { return x == 0 ? 0.0 : x * log(y); }
__device__ __forceinline__ double sl_xlog1py(double x, double y) { return x == 0 ? 0.0 : x * log1p(y); }
__device__ __forceinline__ double sl_sign(double x) { return (double)((x > 0) - (x < 0)); }
"""


# -- source assembly (no SymPy, no CuPy) ---------------------------------------------
def _params(layouts: dict, dtypes: dict) -> str:
    out = []
    for n, lay in layouts.items():
        out.append(f"const double {n}" if lay == "s" else f"const {C_TYPES[dtypes[n]]}* __restrict__ {n}")
    return ", ".join(out)


def _event_loads(form: dict, indent: str) -> list[str]:
    """Component k of each event input; a row of logits the value sees only through their
    softmax ("pinned", symlik.compiler.shift) is read at its limit where its max is +inf:
    0 at +inf, -inf elsewhere (m is then 0, and inf - inf never happens)."""
    L = []
    for n in form["event_names"]:
        if n in form.get("pinned", ()) and n in form["lse"]:
            i = form["lse"].index(n)
            L.append(f"{indent}const double v_{n}_k = top{i} == SL_INF ? ({n}[r * C + k] == SL_INF ? 0.0 : -SL_INF) : (double){n}[r * C + k];")
        else:
            L.append(f"{indent}const double v_{n}_k = (double){n}[r * C + k];")
    return L


def _prelude(form: dict, layouts: dict) -> list[str]:
    """Loads, row terms and gathers for observation r (shared by value and gradient)."""
    L = ["    const double K_ = (double)C;"]
    for n in form["row_names"]:
        lay = layouts.get(n)
        L.append(f"    const double v_{n} = {n};" if lay == "s" else f"    const double v_{n} = (double){n}[r];")
    # LogSumExp = m + log1p(s), s = sum of exp(z - m) over all but one maximal entry:
    # no overflow, and log1p keeps the digits of a tiny s.
    for i, x in enumerate(form["lse"]):
        L.append(f"    double top{i} = -SL_INF;")
        L.append(f"    for (int k = 0; k < C; ++k) top{i} = fmax(top{i}, (double){x}[r * C + k]);")
        L.append(f"    const double m{i} = fabs(top{i}) < SL_INF ? top{i} : 0.0;  // an all -inf row: every exp(z - 0) is 0")
        L.append(f"    double s{i} = 0.0;")
        L.append(f"    int nmax{i} = 0;  // entries equal to the max: all but one add exp(0) = 1")
    for j in range(len(form["sums"])):
        L.append(f"    double t_sum{j} = 0.0;")
    if form["lse"] or form["sums"]:
        L.append("    for (int k = 0; k < C; ++k) {")
        L += _event_loads(form, "        ")
        for i, x in enumerate(form["lse"]):
            L.append(f"        if (v_{x}_k < m{i}) s{i} += exp(v_{x}_k - m{i}); else nmax{i} += 1;")
        for j, s in enumerate(form["sums"]):
            L.append(f"        t_sum{j} += {s};")
        L.append("    }")
    for i, x in enumerate(form["lse"]):
        L.append(f"    s{i} += (double)(nmax{i} - 1);")
        # A pinned row was read at its limit, so s is the number of +inf entries less one and
        # log1p(s) the limit; any other row with a +inf entry has logsumexp +inf.
        if x not in form.get("pinned", ()):
            L.append(f"    if (top{i} == SL_INF) s{i} = SL_INF;")
        L.append(f"    const double L_row{i} = m{i} + log1p(s{i});")
    if form["gathers"]:
        L.append("    const long long yi = (long long)y[r];")
    for g in form["gathers"]:
        L.append(f"    const double v_{g}__at_y = (yi >= 0 && yi < C) ? (double){g}[r * C + yi] : SL_NAN;  // never read out of bounds")
    return L


def device_source(form: dict, layouts: dict, dtypes: dict, out_dtype: str) -> str:
    """The device functions: sl_row (one observation's value) and sl_grad_row (its gradient)."""
    params = _params(layouts, dtypes)
    out_t = C_TYPES[out_dtype]
    S = [PREAMBLE]
    S.append(f"__device__ double sl_row(const long long r, const int C, {params}) {{")
    S += _prelude(form, layouts)
    S.append(f"    return {form['row']};")
    S.append("}")
    grad = form.get("grad")
    if grad:
        gparams = ", ".join(f"{out_t}* __restrict__ g_{n}" for n in grad)
        S.append(f"__device__ void sl_grad_row(const long long r, const int C, const double scale, {params}, {gparams}) {{")
        S += _prelude(form, layouts)
        for name, g in grad.items():
            if not g["event"]:
                S.append(f"    g_{name}[r] = ({out_t})(scale * ({g['direct']}));")
                continue
            S.append("    for (int k = 0; k < C; ++k) {")
            S += _event_loads(form, "        ")
            parts = [f"({a}) * ({b})" for a, b in g["terms"]]
            if g["at_y"]:
                parts.append(f"(k == yi ? ({g['at_y']}) : 0.0)")
            S.append(f"        g_{name}[r * C + k] = ({out_t})(scale * ({' + '.join(parts) or '0.0'}));")
            S.append("    }")
        S.append("}")
    return "\n".join(S) + "\n"


def kernel_source(form: dict, layouts: dict, dtypes: dict, out_dtype: str) -> str:
    """CUDA source of symlik_sum, symlik_none and (when it has one) symlik_grad for these layouts."""
    params = _params(layouts, dtypes)
    args = ", ".join(layouts)
    out_t = C_TYPES[out_dtype]
    S = [device_source(form, layouts, dtypes, out_dtype)]
    S.append(f"""
extern "C" __global__ void symlik_sum(const long long n, const int C, {params}, double* __restrict__ out) {{
    double acc = 0.0;  // float64 per thread: float32 inputs do not drift
    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < n; r += (long long)blockDim.x * gridDim.x)
        acc += sl_row(r, C, {args});
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
    __shared__ double warp_sums[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = acc;
    __syncthreads();
    if (warp == 0) {{
        acc = lane < (blockDim.x >> 5) ? warp_sums[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
        if (lane == 0) atomicAdd(out, acc);
    }}
}}

extern "C" __global__ void symlik_none(const long long n, const int C, {params}, {out_t}* __restrict__ out) {{
    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < n; r += (long long)blockDim.x * gridDim.x)
        out[r] = ({out_t})sl_row(r, C, {args});
}}""")
    grad = form.get("grad")
    if grad:
        gparams = ", ".join(f"{out_t}* __restrict__ g_{n}" for n in grad)
        gargs = ", ".join(f"g_{n}" for n in grad)
        S.append(f"""
extern "C" __global__ void symlik_grad(const long long n, const int C, const double scale, {params}, {gparams}) {{
    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < n; r += (long long)blockDim.x * gridDim.x)
        sl_grad_row(r, C, scale, {args}, {gargs});
}}""")
    return "\n".join(S) + "\n"


def load(source: str, meta: dict, **kernel_kwargs):
    return CupyKernel.from_meta(functions={}, source=source, meta=meta, **kernel_kwargs)


class CupyKernel(LibraryKernel):
    """Runs the generated raw kernels on CuPy arrays; ``grad`` gives the gradient of the reduced loss."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        spec = json.loads(self.source)
        self._args = tuple(spec["args"])
        self._forms = spec["forms"]
        self._compiled: dict = {}

    def _as_array(self, value, like):
        import cupy

        return cupy.asarray(value)

    def _kind(self, a) -> str:
        return np.dtype(a.dtype).kind

    def _cast_float(self, a, ref):
        return a.astype(ref.dtype if ref is not None else np.float64)

    def _to_numpy(self, a):
        import cupy

        return cupy.asnumpy(a)

    def _xp(self):
        import cupy

        return cupy

    def _launch(self, arrays: dict, op: str, entry: int | None = None):
        import cupy

        use_index = self._use_index(arrays)
        if not entry:  # (once for a vector or matrix target: at its first entry)
            self._check_shapes(arrays, use_index)
        if self.validate and not entry:
            self._validate_on_device(arrays, use_index)
        form = self._forms[f"entry{entry}" if entry is not None else "index" if use_index else "dense"]
        event = set(form["event_names"])
        values = {n: arrays[n] for n in self._args}
        obs_shape = tuple(np.broadcast_shapes(*(a.shape[:-1] if n in event else a.shape for n, a in values.items())))
        C = next((values[n].shape[-1] for n in event), 1)
        n_obs = int(np.prod(obs_shape))
        floats = [a.dtype for a in values.values() if a.dtype.kind == "f"]
        out_dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
        layouts, dtypes, prepared = {}, {}, []
        for n, a in values.items():
            if n in event:
                layouts[n], a = "e", cupy.ascontiguousarray(cupy.broadcast_to(a, obs_shape + (C,)))
            elif a.size == 1 and n_obs != 1 and not (n == "y" and use_index) and not (op == "grad" and n in form["grad"]):
                layouts[n], a = "s", np.float64(a.reshape(()).item())
            else:
                layouts[n], a = "a", cupy.ascontiguousarray(cupy.broadcast_to(a, obs_shape))
            if layouts[n] != "s":
                dtypes[n] = str(a.dtype)
            prepared.append(a)
        if op == "grad" and not form.get("grad"):
            raise NotSupportedError(f"no gradient kernel for {self.label}")
        key = (id(form), tuple(layouts.items()), tuple(dtypes.items()), str(out_dtype))
        module = self._compiled.get(key)
        if module is None:
            module = self._compiled[key] = cupy.RawModule(code=kernel_source(form, layouts, dtypes, str(out_dtype)))
        blocks = max(1, min((n_obs + THREADS - 1) // THREADS, 65535))
        head = (np.int64(n_obs), np.int32(C))
        if op == "sum":
            out = cupy.zeros((), dtype=np.float64)
            module.get_function("symlik_sum")((blocks,), (THREADS,), (*head, *prepared, out))
            total = out / n_obs if self.reduction == "mean" else out
            return total.astype(out_dtype)
        if op == "none":
            out = cupy.empty(obs_shape, dtype=out_dtype)
            module.get_function("symlik_none")((blocks,), (THREADS,), (*head, *prepared, out))
            return out
        scale = np.float64(1.0 / n_obs if self.reduction == "mean" else 1.0)
        grads = {n: cupy.empty(prepared[self._args.index(n)].shape, dtype=out_dtype) for n in form["grad"]}
        module.get_function("symlik_grad")((blocks,), (THREADS,), (*head, scale, *prepared, *grads.values()))
        return grads

    def _entries(self, arrays: dict, op: str):
        """A vector or matrix per observation: one kernel per entry, stacked on the last axes."""
        import cupy

        out = cupy.stack([self._launch(arrays, op, i) for i in range(int(np.prod(self.shape)))], axis=-1)
        return out.reshape(out.shape[:-1] + self.shape)

    def _elementwise_arrays(self, arrays: dict):
        return self._entries(arrays, "none") if self.shape else self._launch(arrays, "none")

    def _call_arrays(self, arrays: dict):
        op = "none" if self.reduction == "none" else "sum"
        return self._entries(arrays, op) if self.shape else self._launch(arrays, op)

    def grad(self, *args, weight=None, **kwargs) -> tuple:
        """Gradient of the reduced loss with respect to each predicted input (one CUDA
        kernel), as a tuple of CuPy arrays in ``inputs`` order, like ``Kernel.grad``."""
        if weight is not None:
            raise NotSupportedError("the CuPy gradient kernel takes no weight")
        grads = self._launch(self._arrays(self._bind(args, kwargs)), "grad")
        return tuple(grads[n] for n in self.inputs if n in grads)

    def value_and_grad(self, *args, weight=None, **kwargs) -> tuple:
        return self(*args, weight=weight, **kwargs), self.grad(*args, weight=weight, **kwargs)

    @property
    def grad_source(self) -> str:
        return self.source  # the gradient is the symlik_grad kernel of the same CUDA source
