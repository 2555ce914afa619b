"""The shared conformance harness: random valid inputs for any registry entry.

Values are drawn from each parameter's constraint and from the support, so a
distribution added as one file is exercised with no edit here.
"""

from __future__ import annotations

import numpy as np
from symlik.model import links
from symlik.testing.inputs import draw, draw_target, order_bounds


def draw_param(constraint, rng, shape):
    return draw(constraint, rng, shape)


def random_inputs(spec, rng, n=64, event_size=5):
    """{param name: array} and y, drawn to be valid for ``spec``."""
    event_size = getattr(spec, "fixed_event_size", None) or event_size  # (a model that fixes D)
    params = {}
    predictable = {name for variant in spec.variants for name in variant.get("predict", ())} | set(spec.predict)
    for p in spec.effective_params():
        shape = (n, event_size) if p.event else (n,)
        if not p.event and spec.is_event and not p.constraint.integer and p.name not in predictable:
            # a shared scalar, e.g. diag_normal's sigma (a count, multinomial's n, is per observation,
            # and so is a scalar some variant predicts: von_mises_fisher's kappa)
            shape = ()
        params[p.name] = draw_param(p.constraint, rng, shape)
    params = order_bounds(spec.support, params)
    y = draw_y(spec, rng, n, event_size, params)
    return params, y


def draw_y(spec, rng, n, event_size, params):
    return draw_target(spec.support, rng, n, event_size, params, target_at=spec.target_at)


def kernel_args(kernel, params, y):
    """Keyword arguments for ``kernel`` from a dict of named arrays."""
    out = {"y": y}
    for name in kernel.inputs:
        if name in params:
            out[name] = params[name]
    return out


def linked_inputs(d, params, rng):
    """``params`` with the predicted parameter replaced by the link's input (logits, log rate)."""
    inputs = dict(params)
    if d.link:
        link, name = links.get(d.link), d.spec.link_param(d.link)
        z = link.numeric_forward(params[name])
        if link.event:  # softmax forgets a constant added to every logit of a row: add one
            z = z + rng.normal(size=(z.shape[0], 1))
        inputs[link.input_name(name)] = z
    return inputs


def theta_from_inputs(d, inputs):
    """Undo the link on the predicted input, for the scipy oracle."""
    params = dict(inputs)
    if d.link:
        link, name = links.get(d.link), d.spec.link_param(d.link)
        params[name] = link.numeric_inverse(inputs[link.input_name(name)])
    return params


def scipy_nll(d, inputs, y):
    """The oracle: -logpdf from scipy.stats at the parameters ``inputs`` stand for."""
    theta = theta_from_inputs(d, inputs)
    return -d.spec.scipy_logpdf(y, **{p: theta[p] for p in d.spec.param_names})


def assert_nll_matches_scipy(d, backend="numpy", *, rtol=1e-12, to_array=None, to_numpy=np.asarray):
    """``backend``'s NLL kernel for ``d`` against scipy.stats' logpdf on random valid inputs.
    A backend other than NumPy that cannot compile ``d`` skips (with its reason); NumPy must."""
    import pytest

    import symlik

    rng = np.random.default_rng(1234)
    params, y = random_inputs(d.spec, rng)
    inputs = linked_inputs(d, params, rng)
    try:
        k = symlik.compile(d, target="nll", reduction="none", backend=backend)
    except symlik.NotSupportedError as exc:
        if backend == "numpy":
            raise
        pytest.skip(str(exc))
    args = kernel_args(k, inputs, y)
    if to_array is not None:
        args = {n: to_array(v) for n, v in args.items()}
    got = to_numpy(k(**args))
    np.testing.assert_allclose(got, scipy_nll(d, inputs, y), rtol=rtol, atol=rtol)


def term_magnitude(d, target, values):
    """Per observation, the sum of the absolute values of the terms the kernel for ``target``
    ("nll" or "loss") adds, at the kernel inputs ``values``: two orders of the same sum, or a
    sum and its exact value, differ by rounding of these, not of the result, where the terms
    cancel (a Tweedie deviance near mu = y, or near p = 1). 0 where the terms cannot be evaluated
    here (sums over an event axis)."""
    import sympy as sp

    from symlik.core.functions import exact

    expr = exact(d.nll if target == "nll" else d.loss.expr)
    if expr.has(sp.Sum, sp.Indexed):
        return 0.0
    names = [n for n in d.inputs if n in values]
    symbols = [d.symbols[n] for n in names]
    shape = np.shape(values["y"])
    total = np.zeros(shape)
    for term in sp.Add.make_args(expr):
        f = sp.lambdify(symbols, sp.Abs(term), ["scipy", "numpy"])
        with np.errstate(all="ignore"):
            total = total + np.broadcast_to(np.asarray(f(*(values[n] for n in names)), float), shape)
    return total


def installed_backends() -> list[str]:
    """numpy, and each array backend whose library is installed (fused needs numba)."""
    out = ["numpy"]
    for backend, module in (("fused", "numba"), ("torch", "torch"), ("jax", "jax")):
        try:
            __import__(module)
            out.append(backend)
        except ImportError:
            pass
    return out


def as_backend_array(backend: str, a):
    """``a`` as the array type ``backend`` takes (JAX in float64, to compare with oracles at 1e-12)."""
    if backend == "torch":
        import torch

        return torch.as_tensor(a)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        return jnp.asarray(a)
    return a
