"""``symlik bench``: each loss x implementation, min/median/max time, GB/s, ratio to the best peer.

Implementations are symlik's backends (numpy, fused, torch, jax, cupy: those
whose library is installed), ``symlik.torch.Loss`` and ``symlik.jax.loss``
where the torch / jax backend is timed, and the peers a user would otherwise
write: the hand-written NumPy closed form, torch.nn.functional's loss on the
CPU, the same loss under ``torch.compile`` and the hand-written closed form
under ``jax.jit`` (both fuse, as the fused backend does: its honest rivals),
and, with a GPU, CuPy's and torch's on the device. symlik kernels run with
``validate=False`` (the peers check nothing either). A NumPy ``sum`` over one
array of N values gives the machine's read bandwidth as a reference line.

``modes``: ``"forward"`` times the loss's value; ``"forward+backward"`` the
value and its gradient in the predictions (autograd for torch, ``jax.grad``
under ``jit``, ``Kernel.value_and_grad`` for symlik's NumPy backend, a
hand-written gradient for the NumPy peer). ``sizes``: a sweep over N.

Times are over repeats after one warm-up call (which also pays any JIT
compile); the ratio to the best peer compares medians. GB/s counts the bytes
of the inputs read once.
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
    numpy: Callable  # hand-written closed form over those inputs (xp=jax.numpy for the jax.jit peer)
    torch: Callable | None  # (F, inputs as tensors) -> loss
    numpy_value_and_grad: Callable  # hand-written value and gradient in the predictions
    predicted: int = 1  # the first `predicted` inputs are the predictions (differentiated)


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


def _ce_numpy(logits, y, xp=np):
    m = logits.max(axis=-1, keepdims=True)
    lse = m[:, 0] + xp.log(xp.exp(logits - m).sum(axis=-1))
    return xp.mean(lse - xp.take_along_axis(logits, y[:, None], axis=-1)[:, 0])


# Hand-written value and gradient (NumPy), the forward+backward peer: (value, (d/d prediction, ...)).
def _mse_vg(mu, y):
    d = mu - y
    return np.mean(d * d), (d * (2 / d.size),)


def _mae_vg(mu, y):
    d = mu - y
    return np.mean(np.abs(d)), (np.sign(d) / d.size,)


def _bce_vg(z, y):
    e = np.exp(-np.abs(z))
    value = np.mean(np.maximum(z, 0) - z * y + np.log1p(e))
    sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))  # either side without overflow
    return value, ((sigmoid - y) / z.size,)


def _ce_vg(logits, y):
    m = logits.max(axis=-1, keepdims=True)
    e = np.exp(logits - m)
    total = e.sum(axis=-1, keepdims=True)
    rows = np.arange(len(y))
    value = np.mean(m[:, 0] + np.log(total[:, 0]) - logits[rows, y])
    g = e / total
    g[rows, y] -= 1
    return value, (g / len(y),)


def _gauss_vg(mu, sigma, y):
    r = (y - mu) / sigma
    n = mu.size
    return np.mean(np.log(sigma) + 0.5 * r * r), (-r / sigma / n, (1 - r * r) / sigma / n)


def _poisson_vg(z, y):
    rate = np.exp(z)
    return np.mean(rate - y * z), ((rate - y) / z.size,)


CASES = (
    Case("mse", "mean squared error", "normal", {}, _pair, lambda mu, y, xp=np: xp.mean((y - mu) ** 2),
         lambda F, mu, y: F.mse_loss(mu, y), _mse_vg),
    Case("mae", "mean absolute error", "laplace", {}, _pair, lambda mu, y, xp=np: xp.mean(xp.abs(y - mu)),
         lambda F, mu, y: F.l1_loss(mu, y), _mae_vg),
    Case("bce_logits", "binary cross-entropy with logits", "bernoulli", {"link": "logit"}, _bce_data,
         lambda z, y, xp=np: xp.mean(xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))),
         lambda F, z, y: F.binary_cross_entropy_with_logits(z, y), _bce_vg),
    Case("ce_logits", f"cross-entropy with logits (N/{CE_CLASSES} rows x {CE_CLASSES})", "categorical",
         {"link": "softmax"}, _ce_data, _ce_numpy, lambda F, z, y: F.cross_entropy(z, y), _ce_vg),
    Case("gaussian_nll", "Gaussian NLL, mu and sigma predicted", "normal", {"predict": ("mu", "sigma")}, _gauss_data,
         lambda mu, sigma, y, xp=np: xp.mean(xp.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2),
         None, _gauss_vg, predicted=2),  # torch takes var: prepared outside the timing, see _torch_call
    Case("poisson_nll", "Poisson NLL, log link", "poisson", {"link": "log"}, _poisson_data,
         lambda z, y, xp=np: xp.mean(xp.exp(z) - y * z),
         lambda F, z, y: F.poisson_nll_loss(z, y, log_input=True, full=False), _poisson_vg),
)

MODES = ("forward", "forward+backward")
# The peers, each where its library is installed.
PEERS = ("numpy", "torch", "torch.compile", "jax.jit")


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


def _implementations(case: Case, data: dict, backends, mode: str = "forward", peers=PEERS):
    """(name, kind, callable, sync) for every implementation that can run here."""
    backward = mode == "forward+backward"
    values = list(data.values())
    out = []
    if "numpy" in peers:
        hand = case.numpy_value_and_grad if backward else case.numpy
        out.append(("numpy (hand-written)", "peer", lambda: hand(*values), None))
    for backend in backends:
        try:
            k = symlik.compile(case.spec, backend=backend, validate=False, **case.options)
        except symlik.NotSupportedError:
            continue
        if backend == "numpy":
            call = (lambda k=k: k.value_and_grad(*values)) if backward else (lambda k=k: k(*values))
            out.append(("symlik numpy", "symlik", call, None))
        elif backend == "fused" and not backward:  # the fused backend computes values, not gradients
            out.append(("symlik fused", "symlik", lambda k=k: k(*values), None))
        elif backend == "torch":
            out.append(("symlik torch (cpu)", "symlik", _torch_timed(k, case, values, backward), None))
            loss = symlik.torch.Loss(case.spec, validate=False, **case.options)
            out.append(("symlik.torch.Loss (cpu)", "symlik", _torch_timed(loss, case, values, backward), None))
        elif backend == "jax":
            out.append(("symlik jax (cpu, jit)", "symlik", _jax_timed(k, case, values, backward), None))
            loss = symlik.jax.loss(case.spec, validate=False, **case.options)
            out.append(("symlik.jax.loss (cpu, jit)", "symlik", _jax_timed(loss, case, values, backward), None))
        elif backend == "cupy" and not backward:
            import cupy

            dev = [cupy.asarray(v) for v in values]
            sync = cupy.cuda.Device().synchronize
            out.append(("symlik cupy (gpu)", "symlik", lambda k=k, d=dev: k(*d), sync))
    # torch's Gaussian NLL takes the variance: the peers are given it, squared outside the timing.
    peer_values = [values[0], values[1] ** 2, values[2]] if case.name == "gaussian_nll" else values
    if _have("torch") and "torch" in peers:
        import torch.nn.functional as F

        out.append(("torch.nn.functional (cpu)", "peer", _torch_timed(_torch_loss(case, F), case, peer_values, backward), None))
        if "cupy" in backends and not backward and _torch_cuda():
            import torch

            dev = [torch.from_numpy(v).cuda() for v in peer_values]
            f = _torch_loss(case, F)
            out.append(("torch.nn.functional (gpu)", "peer", lambda: f(*dev), torch.cuda.synchronize))
    if _have("torch") and "torch.compile" in peers:
        import torch
        import torch.nn.functional as F

        compiled = torch.compile(_torch_loss(case, F), dynamic=False)
        out.append(("torch.compile (cpu)", "peer", _torch_timed(compiled, case, peer_values, backward), None))
    if _have("jax") and "jax.jit" in peers:
        import jax.numpy as jnp

        out.append(("jax.jit (cpu)", "peer", _jax_timed(lambda *a: case.numpy(*a, xp=jnp), case, values, backward), None))
    return out


def _torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _torch_loss(case, F):
    """torch.nn.functional's loss over the case's inputs, in the case's order."""
    if case.name == "gaussian_nll":
        return lambda mu, var, y: F.gaussian_nll_loss(mu, y, var)  # the variance, see peer_values
    return lambda *a: case.torch(F, *a)


def _torch_timed(loss, case, values, backward: bool):
    """A call of ``loss`` on tensors (sharing the arrays' memory); with ``backward``, the value
    and the gradient in the predictions by autograd."""
    import torch

    tensors = [torch.from_numpy(v) for v in values]
    if not backward:
        return lambda: loss(*tensors)
    preds = [t.clone().requires_grad_() for t in tensors[: case.predicted]]
    rest = tensors[case.predicted:]

    def step():
        value = loss(*preds, *rest)
        return value, torch.autograd.grad(value, preds)

    return step


def _jax_timed(loss, case, values, backward: bool):
    """``loss`` under ``jax.jit`` (with ``jax.value_and_grad`` in the predictions for ``backward``)."""
    import jax
    import jax.numpy as jnp

    if any(v.dtype == np.float64 for v in values):
        jax.config.update("jax_enable_x64", True)  # a float64 benchmark in float64
    arrays = [jnp.asarray(v) for v in values]
    if backward:
        f = jax.jit(jax.value_and_grad(lambda *a: loss(*a), argnums=tuple(range(case.predicted))))
    else:
        f = jax.jit(lambda *a: loss(*a))
    return lambda: jax.block_until_ready(f(*arrays))


def run(n: int = 10**7, dtypes=DTYPES, losses=None, backends=None, repeat: int = 7, progress=None,
        sizes=None, modes=("forward",), peers=None) -> dict:
    """Benchmark; returns {"n", "sizes", "modes", "threads", "reference", "rows": [...]} (what ``--json`` prints).

    ``sizes`` (default ``[n]``): the values of N to sweep; ``modes``: any of ``MODES``;
    ``peers``: any of ``PEERS`` (default: each whose library is installed).
    """
    if backends is None:
        backends = ["numpy"] + [b for b, mod in (("fused", "numba"), ("torch", "torch")) if _have(mod)]
        if _gpu():
            backends.append("cupy")
    if peers is None:
        needs = {"numpy": "numpy", "torch": "torch", "torch.compile": "torch", "jax.jit": "jax"}
        peers = [p for p in PEERS if _have(needs[p])]
    sizes = list(sizes or [n])
    cases = [c for c in available_cases() if losses is None or c.name in losses]
    rng = np.random.default_rng(0)
    rows, reference = [], {}
    plan = [(size, c, d, m) for size in sizes for d in dtypes for c in cases for m in modes]
    total = len(plan) + len(dtypes)
    step = 0
    for dtype in dtypes:
        a = rng.standard_normal(max(sizes)).astype(dtype)
        t = statistics.median(_times(lambda: a.sum(), repeat))
        reference[dtype] = {"n": a.size, "median_ms": t * 1e3, "gbps": a.nbytes / t / 1e9}
        step += 1
        if progress:
            progress(step, total, f"read bandwidth ({dtype})")
    for size, case, dtype, mode in plan:
        data = case.make(size, dtype, rng)
        nbytes = sum(v.nbytes for v in data.values())
        results = []
        for name, kind, fn, sync in _implementations(case, data, backends, mode, peers):
            if progress:
                progress(step, total, f"{case.name} {dtype} n={size} {mode}: {name}")
            times = _times(fn, repeat, sync)
            t = statistics.median(times)
            results.append({"loss": case.name, "dtype": dtype, "n": size, "mode": mode, "implementation": name,
                            "kind": kind, "median_ms": t * 1e3, "min_ms": min(times) * 1e3,
                            "max_ms": max(times) * 1e3, "best_ms": min(times) * 1e3, "gbps": nbytes / t / 1e9,
                            "bytes": nbytes})
        best_peer = min((r["median_ms"] for r in results if r["kind"] == "peer"), default=None)
        for r in results:
            r["vs_best_peer"] = best_peer / r["median_ms"] if best_peer else None
        rows += results
        step += 1
        if progress:
            progress(step, total, f"{case.name} {dtype} n={size} {mode}")
    return {"n": sizes[0] if len(sizes) == 1 else max(sizes), "sizes": sizes, "modes": list(modes),
            "threads": os.cpu_count(), "symlik": symlik.__version__, "reference": reference,
            "backends": list(backends), "peers": list(peers), "rows": rows}


def table(result: dict) -> str:
    lines = [f"N = {', '.join(f'{s:,}' for s in result.get('sizes', [result['n']]))} elements; min / median / max "
             "of repeats; symlik kernels with validate=False; x best peer = (fastest peer's median) / (this median), "
             "> 1 is faster.", ""]
    for dtype, ref in result["reference"].items():
        lines.append(f"read bandwidth reference ({dtype}): NumPy sum over one array of {ref.get('n', result['n']):,}: "
                     f"{ref['median_ms']:.2f} ms, {ref['gbps']:.1f} GB/s")
    lines.append("")
    header = ("loss", "dtype", "n", "mode", "implementation", "min ms", "median ms", "max ms", "GB/s", "x best peer")
    body = [(r["loss"], r["dtype"], f"{r.get('n', result['n']):,}", r.get("mode", "forward"), r["implementation"],
             _ms(r.get("min_ms", r["best_ms"])), _ms(r["median_ms"]), _ms(r.get("max_ms", r["median_ms"])),
             f"{r['gbps']:.1f}", f"{r['vs_best_peer']:.2f}" if r["vs_best_peer"] else "-") for r in result["rows"]]
    widths = [max(len(str(x[i])) for x in (header, *body)) for i in range(len(header))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


def _ms(t: float) -> str:
    return f"{t:.2f}" if t >= 1 else f"{t:.4f}"


def progress_bar(stream=None, width: int = 30):
    def show(step: int, total: int, label: str) -> None:
        out = stream or sys.stderr
        done = int(width * step / max(total, 1))
        out.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total} {label[:50]:<50}")
        if step >= total:
            out.write("\n")
        out.flush()

    return show
