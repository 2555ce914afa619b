"""The CuPy backend.

Kernel source is checked on every machine: its structure, and its device
code compiled for the CPU with the system C compiler and run against
closed forms and torch's autograd (the same C that NVRTC compiles, with
CUDA's qualifiers defined away). Tests that launch kernels are marked
``gpu`` and skip without CuPy and a device.
"""

import ctypes
import json
import shutil
import subprocess

import numpy as np
import pytest
from scipy import special

import symlik
from symlik.compiler import cupy_backend
from symlik.compiler import cuda_codegen
from symlik.compiler.cuda_codegen import CudaPrinter
from symlik.compiler.plan import make_plan
from symlik.compiler.scalar_codegen import ScalarPrinter


def _source(name, **kwargs):
    return json.loads(cuda_codegen.generate(make_plan(name, target=kwargs.pop("target", "loss"), reduction="mean", **kwargs)))


def _layout(spec, form_name):
    form = spec["forms"][form_name]
    layouts = {n: ("e" if n in form["event_names"] else "a") for n in spec["args"]}
    dtypes = {n: "float64" for n in layouts}
    if form["gathers"]:
        dtypes["y"] = "int64"
    return form, layouts, dtypes


# -- source ------------------------------------------------------------------------------
def test_printer_table_is_merged_from_the_scalar_one_and_says_what_is_missing():
    assert set(ScalarPrinter.functions) <= set(CudaPrinter.functions)
    assert "polygamma" in CudaPrinter.missing
    import sympy as sp

    with pytest.raises(symlik.NotSupportedError, match="cupy backend has no polygamma"):
        CudaPrinter().doprint(sp.digamma(sp.Symbol("x")))  # digamma(x) is polygamma(0, x)


def test_each_loss_is_one_kernel_with_a_float64_block_reduction():
    spec = _source("bernoulli", link="logit")
    form, layouts, dtypes = _layout(spec, "dense")
    src = cupy_backend.kernel_source(form, layouts, dtypes, "float32")
    assert src.count("__global__ void symlik_sum") == 1 and src.count("__global__ void symlik_grad") == 1
    assert "double acc = 0.0" in src and "__shfl_down_sync" in src and "atomicAdd(out, acc)" in src
    # the stable softplus, max(z, 0) + log1p(exp(-|z|)): inline from SymPy, or the device helper
    assert "log1p(exp(-fabs(v_logits)))" in src or ("sl_softplus(v_logits)" in src and "log1p(exp(-fabs(z)))" in src)
    # a zero target weight is an exact 0 (0 * inf at z = +-inf), as a C ternary, never Python's `if`
    assert " else " not in src and "?" in src
    assert "cupy" not in src  # CUDA C, not a chain of array calls


def test_cross_entropy_kernel_reads_rows_once_and_never_out_of_bounds():
    spec = _source("categorical", link="softmax")
    form, layouts, dtypes = _layout(spec, "index")
    src = cupy_backend.kernel_source(form, layouts, dtypes, "float64")
    assert "log1p(s0)" in src and "(yi >= 0 && yi < C)" in src and "SL_NAN" in src


def test_gradient_kernels_cover_every_predicted_input():
    spec = _source("normal", predict=("mu", "sigma"))
    assert set(spec["forms"]["dense"]["grad"]) == {"mu", "sigma"}
    spec = _source("categorical", link="softmax")
    assert set(spec["forms"]["index"]["grad"]) == {"logits"} and set(spec["forms"]["dense"]["grad"]) == {"logits"}


# -- the device code, compiled for the CPU ---------------------------------------------
SHIM = r"""
#include <math.h>
#include <string.h>
#include <stdbool.h>
#define __device__
#define __forceinline__ inline
static inline double __longlong_as_double(long long x) { double d; memcpy(&d, &x, sizeof d); return d; }
"""


def _cpu_build(tmp_path, spec, form_name):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    form, layouts, dtypes = _layout(spec, form_name)
    params = cupy_backend._params(layouts, dtypes)
    args = ", ".join(layouts)
    grad = form["grad"]
    gparams = ", ".join(f"double* g_{n}" for n in grad)
    gargs = ", ".join(f"g_{n}" for n in grad)
    driver = f"""
void rows(long long n, int C, {params}, double* out) {{ for (long long r = 0; r < n; ++r) out[r] = sl_row(r, C, {args}); }}
void grads(long long n, int C, double scale, {params}, {gparams}) {{ for (long long r = 0; r < n; ++r) sl_grad_row(r, C, scale, {args}, {gargs}); }}
"""
    (tmp_path / "k.c").write_text(SHIM + cupy_backend.device_source(form, layouts, dtypes, "float64") + driver)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp_path / "k.so"), str(tmp_path / "k.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(tmp_path / "k.so"))
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731

    def rows(C, *arrays):
        n = len(arrays[-1]) if arrays[-1].ndim == 1 else arrays[-1].shape[0]
        out = np.empty(n)
        lib.rows(ctypes.c_longlong(n), ctypes.c_int(C), *map(ptr, arrays), ptr(out))
        return out

    def grads(C, *arrays):
        n = arrays[-1].shape[0]
        outs = {g: np.empty_like(arrays[spec["args"].index(g)]) for g in grad}
        lib.grads(ctypes.c_longlong(n), ctypes.c_int(C), ctypes.c_double(1.0), *map(ptr, arrays), *map(ptr, outs.values()))
        return outs

    return rows, grads


def test_device_code_bce_values_and_gradient(tmp_path):
    rows, grads = _cpu_build(tmp_path, _source("bernoulli", link="logit"), "dense")
    z = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 30.0, 800.0] * 2)
    y = np.repeat([0.0, 1.0], 7)
    want = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)  # no cancellation for 0/1 labels
    np.testing.assert_allclose(rows(1, z, y), want, rtol=1e-13, atol=1e-300)
    # sigmoid(z) - y cancels at z = 30, y = 1; for 0/1 labels it is -sigmoid(-z) or sigmoid(z), exactly
    want_grad = np.where(y == 1, -special.expit(-z), special.expit(z))
    np.testing.assert_allclose(grads(1, z, y)["logits"], want_grad, rtol=1e-13, atol=1e-300)


def test_device_code_cross_entropy_values_and_gradient(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    L = 5 * rng.normal(size=(9, 6))
    L[0] = [40.0, 0, 0, 0, 0, -40.0]  # a confident right answer: loss e^-40-ish, digits kept
    c = rng.integers(0, 6, 9).astype(np.int64)
    c[0] = 0
    rows, grads = _cpu_build(tmp_path, _source("categorical", link="softmax"), "index")
    want = special.logsumexp(L, axis=-1) - L[np.arange(9), c]
    want[0] = float(_mp_ce(L[0], 0))  # scipy rounds this one to 0
    np.testing.assert_allclose(rows(6, L, c), want, rtol=1e-13)
    t = torch.tensor(L, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.tensor(c), reduction="sum").backward()
    np.testing.assert_allclose(grads(6, L, c)["logits"], t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_device_code_dense_cross_entropy_at_plus_infinite_logits(tmp_path):
    # softmax's limit at +inf logits: even over the +inf entries, 0 elsewhere (worked by hand)
    rows, grads = _cpu_build(tmp_path, _source("categorical", link="softmax"), "dense")
    inf = np.inf
    L = np.array([[inf, 0.0, 0.0], [inf, inf, 0.0], [inf, 0.0, 0.0], [inf, inf, inf], [3.0, 1.0, 0.0]])
    Y = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    finite = special.logsumexp(L[4]) - Y[4] @ L[4]
    np.testing.assert_allclose(rows(3, L, Y), [0.0, np.log(2.0), inf, np.log(3.0), finite], rtol=1e-14, atol=0)
    soft = np.array([[1.0, 0, 0], [0.5, 0.5, 0], [1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3], special.softmax(L[4])])
    np.testing.assert_allclose(grads(3, L, Y)["logits"], soft - Y, rtol=1e-14, atol=1e-15)


def _mp_ce(row, label):
    import mpmath

    mpmath.mp.dps = 60
    return mpmath.log(sum(mpmath.exp(mpmath.mpf(v) - mpmath.mpf(row[label])) for v in row))


def test_device_code_gaussian_nll_gradient(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    mu, sigma, y = rng.normal(size=20), 0.5 + rng.random(20), rng.normal(size=20)
    rows, grads = _cpu_build(tmp_path, _source("normal", predict=("mu", "sigma")), "dense")
    tm, ts = torch.tensor(mu, requires_grad=True), torch.tensor(sigma, requires_grad=True)
    torch.nn.functional.gaussian_nll_loss(tm, torch.tensor(y), ts * ts, eps=0.0, reduction="sum").backward()
    np.testing.assert_allclose(rows(1, mu, sigma, y), np.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2, rtol=1e-13)
    g = grads(1, mu, sigma, y)
    np.testing.assert_allclose(g["mu"], tm.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g["sigma"], ts.grad.numpy(), rtol=1e-12)


# -- on a GPU ----------------------------------------------------------------------------
def _cupy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no CUDA device: {exc}")
    return cupy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gpu_kernels_match_closed_forms(dtype):
    cupy = _cupy()
    rng = np.random.default_rng(0)
    n = 100_003
    z, y = (4 * rng.normal(size=n)).astype(dtype), (rng.random(n) < 0.5).astype(dtype)
    k = symlik.compile("bernoulli", link="logit", backend="cupy")
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    want = np.mean(np.logaddexp(0, z.astype(float)) - z.astype(float) * y)
    np.testing.assert_allclose(float(k(cupy.asarray(z), cupy.asarray(y))), want, rtol=rtol)
    (g,) = k.grad(cupy.asarray(z), cupy.asarray(y))
    np.testing.assert_allclose(cupy.asnumpy(g), (special.expit(z.astype(float)) - y) / n, rtol=rtol * 10, atol=1e-12)
    L, c = (3 * rng.normal(size=(n // 10, 10))).astype(dtype), rng.integers(0, 10, n // 10)
    kc = symlik.compile("categorical", link="softmax", backend="cupy")
    want = np.mean(special.logsumexp(L.astype(float), axis=-1) - L.astype(float)[np.arange(len(c)), c])
    np.testing.assert_allclose(float(kc(cupy.asarray(L), cupy.asarray(c))), want, rtol=rtol)
