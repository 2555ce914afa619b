"""``symlik bench``: each loss x implementation, median time, GB/s, ratio to the best peer.

Implementations are symlik's backends (numpy, fused, torch, jax, cupy: those
whose library is installed) and the peers a user would otherwise write:
the hand-written NumPy closed form, torch.nn.functional's loss on the CPU
and, with a GPU, CuPy's and torch's on the device. symlik kernels run with
``validate=False`` (the peers check nothing either). A NumPy ``sum`` over one
array of N values gives the machine's read bandwidth as a reference line.

Times are medians over repeats after one warm-up call (which also pays any
JIT compile). GB/s counts the bytes of the inputs read once.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

import symlik

DTYPES = ("float64", "float32")
CE_CLASSES = 100


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    spec: str
    options: dict
    make: Callable  # (n, dtype, rng) -> dict of named NumPy inputs, in kernel order
    numpy: Callable  # hand-written closed form over those inputs
    torch: Callable | None  # (F, inputs as tensors) -> loss


def _pair(n, dtype, rng):
    return {"mu": rng.standard_normal(n).astype(dtype), "y": rng.standard_normal(n).astype(dtype)}


def _bce_data(n, dtype, rng):
    return {"logits": (2 * rng.standard_normal(n)).astype(dtype), "y": (rng.random(n) < 0.5).astype(dtype)}


def _ce_data(n, dtype, rng):
    rows = max(1, n // CE_CLASSES)
    return {"logits": (2 * rng.standard_normal((rows, CE_CLASSES))).astype(dtype), "y": rng.integers(0, CE_CLASSES, rows)}


def _gauss_data(n, dtype, rng):
    return {"mu": rng.standard_normal(n).astype(dtype), "sigma": (0.5 + rng.random(n)).astype(dtype),
            "y": rng.standard_normal(n).astype(dtype)}


def _poisson_data(n, dtype, rng):
    return {"log_rate": rng.uniform(-1, 2, n).astype(dtype), "y": rng.poisson(2.0, n).astype(dtype)}


def _ce_numpy(logits, y):
    m = logits.max(axis=-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=-1))
    return np.mean(lse - np.take_along_axis(logits, y[:, None], axis=-1)[:, 0])


CASES = (
    Case("mse", "mean squared error", "normal", {}, _pair, lambda mu, y: np.mean((y - mu) ** 2),
         lambda F, mu, y: F.mse_loss(mu, y)),
    Case("mae", "mean absolute error", "laplace", {}, _pair, lambda mu, y: np.mean(np.abs(y - mu)),
         lambda F, mu, y: F.l1_loss(mu, y)),
    Case("bce_logits", "binary cross-entropy with logits", "bernoulli", {"link": "logit"}, _bce_data,
         lambda z, y: np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))),
         lambda F, z, y: F.binary_cross_entropy_with_logits(z, y)),
    Case("ce_logits", f"cross-entropy with logits (N/{CE_CLASSES} rows x {CE_CLASSES})", "categorical",
         {"link": "softmax"}, _ce_data, _ce_numpy, lambda F, z, y: F.cross_entropy(z, y)),
    Case("gaussian_nll", "Gaussian NLL, mu and sigma predicted", "normal", {"predict": ("mu", "sigma")}, _gauss_data,
         lambda mu, sigma, y: np.mean(np.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2),
         None),  # torch takes var: prepared outside the timing, see _torch_call
    Case("poisson_nll", "Poisson NLL, log link", "poisson", {"link": "log"}, _poisson_data,
         lambda z, y: np.mean(np.exp(z) - y * z),
         lambda F, z, y: F.poisson_nll_loss(z, y, log_input=True, full=False)),
)


def available_cases() -> tuple[Case, ...]:
    names = set(symlik.names())
    return tuple(c for c in CASES if c.spec in names)


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _gpu() -> bool:
    if not _have("cupy"):
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no device: no GPU rows
        return False


def _times(fn, repeat: int, sync=None) -> list[float]:
    fn()  # warm-up: JIT compile, caches, allocator
    if sync:
        sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return times


def _implementations(case: Case, data: dict, backends):
    """(name, kind, callable, sync) for every implementation that can run here."""
    out = [("numpy (hand-written)", "peer", lambda: case.numpy(*data.values()), None)]
    args = {k: v for k, v in case.options.items()}
    for backend in backends:
        try:
            k = symlik.compile(case.spec, backend=backend, validate=False, **args)
        except symlik.NotSupportedError:
            continue
        if backend in ("numpy", "fused"):
            out.append((f"symlik {backend}", "symlik", lambda k=k: k(*data.values()), None))
        elif backend == "torch":
            import torch

            tensors = [torch.from_numpy(v) for v in data.values()]
            out.append(("symlik torch (cpu)", "symlik", lambda k=k, t=tensors: k(*t), None))
        elif backend == "jax":
            import jax
            import jax.numpy as jnp

            arrays = [jnp.asarray(v) for v in data.values()]
            f = jax.jit(lambda *a, k=k: k(*a))
            out.append(("symlik jax (cpu, jit)", "symlik", lambda f=f, a=arrays: f(*a).block_until_ready(), None))
        elif backend == "cupy":
            import cupy

            dev = [cupy.asarray(v) for v in data.values()]
            sync = cupy.cuda.Device().synchronize
            out.append(("symlik cupy (gpu)", "symlik", lambda k=k, d=dev: k(*d), sync))
    if _have("torch"):
        import torch
        import torch.nn.functional as F

        tensors = [torch.from_numpy(v) for v in data.values()]
        call = _torch_call(case, F, tensors)
        out.append(("torch.nn.functional (cpu)", "peer", call, None))
        if "cupy" in backends and torch.cuda.is_available():
            dev = [t.cuda() for t in tensors]
            out.append(("torch.nn.functional (gpu)", "peer", _torch_call(case, F, dev), torch.cuda.synchronize))
    return out


def _torch_call(case, F, tensors):
    if case.name == "gaussian_nll":
        mu, sigma, y = tensors
        var = sigma * sigma  # torch's loss takes the variance; squaring is left out of its time
        return lambda: F.gaussian_nll_loss(mu, y, var)
    return lambda: case.torch(F, *tensors)


def run(n: int = 10**7, dtypes=DTYPES, losses=None, backends=None, repeat: int = 7, progress=None) -> dict:
    """Benchmark; returns {"n", "threads", "reference", "rows": [...]} (what ``--json`` prints)."""
    if backends is None:
        backends = ["numpy"] + [b for b, mod in (("fused", "numba"), ("torch", "torch")) if _have(mod)]
        if _gpu():
            backends.append("cupy")
    cases = [c for c in available_cases() if losses is None or c.name in losses]
    rng = np.random.default_rng(0)
    rows, reference = [], {}
    plan = [(c, d) for d in dtypes for c in cases]
    total = len(plan) + len(dtypes)
    step = 0
    for dtype in dtypes:
        a = rng.standard_normal(n).astype(dtype)
        t = statistics.median(_times(lambda: a.sum(), repeat))
        reference[dtype] = {"median_ms": t * 1e3, "gbps": a.nbytes / t / 1e9}
        step += 1
        if progress:
            progress(step, total, f"read bandwidth ({dtype})")
    for case, dtype in plan:
        data = case.make(n, dtype, rng)
        nbytes = sum(v.nbytes for v in data.values())
        results = []
        for name, kind, fn, sync in _implementations(case, data, backends):
            if progress:
                progress(step, total, f"{case.name} {dtype}: {name}")
            times = _times(fn, repeat, sync)
            t = statistics.median(times)
            results.append({"loss": case.name, "dtype": dtype, "implementation": name, "kind": kind,
                            "median_ms": t * 1e3, "best_ms": min(times) * 1e3, "gbps": nbytes / t / 1e9, "bytes": nbytes})
        best_peer = min((r["median_ms"] for r in results if r["kind"] == "peer"), default=None)
        for r in results:
            r["vs_best_peer"] = best_peer / r["median_ms"] if best_peer else None
        rows += results
        step += 1
        if progress:
            progress(step, total, f"{case.name} {dtype}")
    return {"n": n, "threads": os.cpu_count(), "symlik": symlik.__version__, "reference": reference,
            "backends": list(backends), "rows": rows}


def table(result: dict) -> str:
    lines = [f"N = {result['n']:,} elements; median of repeats; symlik kernels with validate=False; "
             "x best peer = (fastest peer time) / (this time), > 1 is faster.", ""]
    for dtype, ref in result["reference"].items():
        lines.append(f"read bandwidth reference ({dtype}): NumPy sum over one array: {ref['median_ms']:.2f} ms, {ref['gbps']:.1f} GB/s")
    lines.append("")
    header = ("loss", "dtype", "implementation", "median ms", "GB/s", "x best peer")
    body = [(r["loss"], r["dtype"], r["implementation"], f"{r['median_ms']:.2f}", f"{r['gbps']:.1f}",
             f"{r['vs_best_peer']:.2f}" if r["vs_best_peer"] else "-") for r in result["rows"]]
    widths = [max(len(str(x[i])) for x in (header, *body)) for i in range(len(header))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


def progress_bar(stream=None, width: int = 30):
    def show(step: int, total: int, label: str) -> None:
        out = stream or sys.stderr
        done = int(width * step / max(total, 1))
        out.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total} {label[:50]:<50}")
        if step >= total:
            out.write("\n")
        out.flush()

    return show
