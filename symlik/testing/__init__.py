"""Test your own loss against a derivation.

>>> import numpy as np, symlik.testing
>>> def bce_with_logits(z, y):  # the stable form
...     return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
>>> symlik.testing.assert_loss_matches(bce_with_logits, "bernoulli", link="logit")

``assert_loss_matches`` calls your function with the kernel's inputs, in the
kernel's order (``kernel.inputs``: the predictions, then ``y``, then any
parameter neither predicted nor fixed), as NumPy arrays, torch tensors or JAX
arrays of the dtype under test, on random valid inputs and on an extreme grid
(logits to +-1e3, scales from 1e-8 to 1e8, probabilities within 1e-15 of 0
and 1). Each grid point is evaluated on its own, so a failure names the input
that caused it. The reference is the derived kernel in float64 at the same
(rounded) inputs.
"""

from __future__ import annotations

import numpy as np

import symlik
from symlik.testing.inputs import Inputs

TOLERANCES = {"float64": 1e-10, "float32": 1e-5}
FRAMEWORKS = ("numpy", "torch", "jax")


class LossMismatch(AssertionError):
    """Your loss differs from the derived one; the message shows where and by how much.

    ``failures`` lists every failing input as (inputs, yours, derived), worst first.
    """

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


def _convert(arrays, framework, dtype):
    if framework == "numpy":
        return arrays
    if framework == "torch":
        import torch

        return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}
    import jax.numpy as jnp

    if dtype == np.float64:
        import jax

        jax.config.update("jax_enable_x64", True)
    return {k: jnp.asarray(v) for k, v in arrays.items()}


def _to_numpy(value):
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _call(fn, names, arrays, framework, dtype):
    converted = _convert(arrays, framework, dtype)
    return _to_numpy(fn(*[converted[n] for n in names]))


def _detect(fn, names, arrays, dtype):
    """numpy first (JAX functions accept NumPy arrays too); then torch tensors."""
    errors = []
    for framework in FRAMEWORKS:
        try:
            _call(fn, names, arrays, framework, dtype)
            return framework
        except ImportError:
            continue
        except Exception as exc:  # noqa: BLE001 - any failure means "not this framework"
            errors.append(f"{framework}: {type(exc).__name__}: {exc}")
    raise LossMismatch("could not call your loss with NumPy, torch or JAX inputs:\n  " + "\n  ".join(errors))


def _describe(point, names):
    parts = []
    for n in names:
        v = np.asarray(point[n])
        v = v.reshape(v.shape[1:]) if v.ndim and v.shape[0] == 1 else v
        parts.append(f"{n}={np.array2string(v, precision=6) if v.ndim else repr(v.item())}")
    return ", ".join(parts)


def assert_loss_matches(
    fn,
    spec,
    *,
    link=None,
    predict=None,
    reduction="mean",
    target="loss",
    dtype="float64",
    framework=None,
    rtol=None,
    atol=None,
    n=64,
    event_size=5,
    seed=0,
    fixed=None,
    options=None,
    **loss_options,
):
    """Raise ``LossMismatch`` unless ``fn`` computes the derived loss.

    Parameters
    ----------
    fn : callable
        Your loss: ``fn(*inputs)`` with the kernel's inputs in order (see
        ``symlik.compile(...).inputs``), returning the reduced loss (a scalar
        for ``"mean"``/``"sum"``, per-observation values for ``"none"``).
    spec, link, predict, target, fixed, options, **loss_options
        What to derive, as for ``symlik.compile`` (``loss_options`` are torch's:
        ``label_smoothing=0.1``, ``pos_weight=...``).
    dtype : {"float64", "float32"}
        The dtype of the inputs your function gets.
    framework : {"numpy", "torch", "jax"}, optional
        How to pass the inputs; by default NumPy if your function accepts it, else torch.
    rtol, atol : float, optional
        A value passes when ``|yours - derived| <= rtol * |derived| + atol``. Defaults:
        rtol 1e-10 (float64) or 1e-5 (float32); atol 8 eps (1 + the largest |input|),
        the rounding a correct implementation may make in its largest term.
    """
    dtype = np.dtype(dtype)
    if dtype.name not in TOLERANCES:
        raise symlik.SymlikError(f"dtype must be float64 or float32; got {dtype}")
    if framework is not None and framework not in FRAMEWORKS:
        raise symlik.UnknownNameError("framework", framework, FRAMEWORKS)
    kernel = symlik.compile(
        spec, target=target, reduction=reduction, predict=predict, link=link, fixed=fixed, options=options,
        **loss_options,
    )
    inputs = Inputs(kernel, dtype=dtype, event_size=event_size)
    rng = np.random.default_rng(seed)
    batch = inputs.random(rng, n)
    points = [{k: v[i : i + 1] if (v.ndim and v.shape[0] == n) else v for k, v in batch.items()} for i in range(n)]
    points += inputs.grid(rng)
    names = kernel.inputs
    framework = framework or _detect(fn, names, points[0], dtype)
    rtol = TOLERANCES[dtype.name] if rtol is None else rtol
    eps = float(np.finfo(dtype).eps)

    def reference(p):
        wide = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in p.items()}
        with np.errstate(all="ignore"):
            return np.asarray(kernel(*[wide[k] for k in names]), dtype=np.float64)

    def bound(p, want):
        scale = max((float(np.max(np.abs(v))) for v in p.values() if np.size(v)), default=0.0)
        return (8 * eps * (1 + scale) if atol is None else atol) + rtol * np.abs(want)

    rows = []
    for p in points:
        want = reference(p)
        with np.errstate(all="ignore"):
            got = _call(fn, names, p, framework, dtype)
        if np.shape(got) != np.shape(want) and np.size(got) == np.size(want):
            got = got.reshape(np.shape(want))
        if np.shape(got) != np.shape(want):
            raise LossMismatch(
                f"your loss returned shape {np.shape(got)} where the derived one (reduction={reduction!r}) "
                f"has shape {np.shape(want)}"
            )
        same_inf = np.isinf(want) & (got == want)
        err = np.where(same_inf, 0.0, np.abs(got - want))
        with np.errstate(all="ignore"):
            ratio = np.where(np.isnan(err) | np.isnan(want), np.inf, err / bound(p, want))
        rows.append((float(np.max(ratio)), p, float(np.ravel(got)[0]), float(np.ravel(want)[0])))
    failures = [r for r in rows if not r[0] <= 1]

    # The reduction itself, on the whole random batch.
    with np.errstate(all="ignore"):
        want_all = reference(batch)
        got_all = _call(fn, names, batch, framework, dtype)
    if np.size(got_all) != np.size(want_all):
        raise LossMismatch(
            f"your loss returned shape {np.shape(got_all)} for a batch of {n} where the derived one "
            f"(reduction={reduction!r}) has shape {np.shape(want_all)}"
        )
    got_all = got_all.reshape(np.shape(want_all))
    batch_err = float(np.max(np.abs(got_all - want_all) / bound(batch, want_all))) if np.size(want_all) else 0.0

    label = f"{kernel.derivation.spec.label} {target}" + (f", link {link}" if link else "")
    label += f", reduction {reduction!r}, {dtype.name}"
    if loss_options:
        label += ", " + ", ".join(f"{k}={v!r}" if np.ndim(v) == 0 else f"{k}=<array>" for k, v in loss_options.items())
    if failures:
        failures.sort(key=lambda r: -r[0])
        worst_ratio, p, got, want = failures[0]
        rel = abs(got - want) / abs(want) if want != 0 and np.isfinite(want) else (0.0 if got == want else np.inf)
        lines = [
            f"your loss does not match the derived {label}:",
            f"  {len(failures)} of {len(rows)} inputs fail |yours - derived| <= {rtol:g} * |derived| + atol",
            f"  worst at {_describe(p, names)}:",
            f"      yours          = {got!r}",
            f"      derived        = {want!r}",
            f"      relative error = {rel:.3g}",
        ]
        more = [f"    {_describe(q, names)}: yours {g!r}, derived {w!r}" for _, q, g, w in failures[1:6]]
        if more:
            lines += ["  other failing inputs:", *more]
        raise LossMismatch("\n".join(lines), [(q, g, w) for _, q, g, w in failures])
    if not batch_err <= 1:
        raise LossMismatch(
            f"your loss matches the derived {label} observation by observation, but not over a batch of {n}: "
            f"yours = {float(np.ravel(got_all)[0])!r}, derived = {float(np.ravel(want_all)[0])!r}. Check the reduction "
            "(torch's mean divides by n, or by the total class weight for cross_entropy with class weights)."
        )


__all__ = ["assert_loss_matches", "LossMismatch"]
