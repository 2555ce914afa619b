"""``symlik.jax``: a symlik loss as a JAX function whose gradient is symlik's symbolic one.

>>> import jax.numpy as jnp, symlik.jax
>>> ce = symlik.jax.loss("categorical", link="softmax")     # optax.softmax_cross_entropy_with_integer_labels
>>> round(float(ce(jnp.zeros((4, 3)), jnp.array([0, 1, 2, 0]))), 5)
1.09861

``loss(spec, predict=None, link=None, reduction="mean", **loss_options)`` takes
what ``symlik.compile`` takes and returns ``f(*inputs, weight=None)``, called
like the kernel (predicted inputs first, then ``y``, then any parameter
neither predicted nor fixed). ``f`` is a ``jax.custom_vjp`` function:
``jax.grad`` gets the gradient that ``Kernel.value_and_grad`` computes (the
derivative of the stable form, printed with the value as one function after
common-subexpression elimination), and the forward pass of ``jax.grad`` /
``jax.value_and_grad`` computes value and gradient in that one pass. With
``reduction="none"`` the backward pass evaluates the gradient with the
incoming cotangent as the observations' weight.

It is ``jax.jit``-able: the NumPy kernel runs as a ``jax.pure_callback`` on
the host, so under ``jit`` it is one opaque call between the traced parts of
the model. A bad input (``sigma <= 0``) raises its SymlikError on concrete
arrays; under ``jit`` or ``grad`` JAX reports it as its runtime error, with
symlik's message inside. Gradients flow to the predicted inputs; the other inputs' cotangents
are zero. The backend kernel (``symlik.compile(..., backend="jax")``), which
JAX traces and differentiates itself, remains the choice for accelerators.

This module sits above the compiler in the layers (``.importlinter``); it is
loaded only when ``symlik.jax`` is first used, so it imports JAX at the top.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import symlik.compiler
from symlik.compiler.kernel import bind_inputs
from symlik.core.errors import SymlikError

__all__ = ["loss"]


def loss(spec, predict=None, link=None, reduction: str = "mean", *, target: str = "loss",
         fixed: dict | None = None, validate: bool = True, **loss_options):
    """A JAX loss function with symlik's symbolic gradient (see the module's docstring)."""
    if target not in ("loss", "nll"):
        raise SymlikError(f"target must be 'loss' or 'nll' for a training loss; got {target!r}")
    kernel = symlik.compiler.compile(spec, target=target, backend="numpy", reduction=reduction, fixed=fixed,
                                     predict=predict, link=link, validate=validate, **loss_options)
    predicted = tuple(kernel.derivation.predicted_inputs)
    count = len(predicted)

    def value_dtype(inputs):
        floats = [x.dtype for x in inputs[:count] if jnp.issubdtype(x.dtype, jnp.floating)]
        return jnp.result_type(*floats) if floats else jnp.result_type(float)

    def observation_shape(inputs):
        shapes = []
        index_y = False
        if kernel.index_targets:
            y = inputs[kernel.inputs.index("y")]
            ref = next(inputs[kernel.inputs.index(n)] for n in kernel.event_inputs if n != "y" and n in kernel.inputs)
            index_y = jnp.issubdtype(y.dtype, jnp.integer) and y.ndim == ref.ndim - 1
        for name, x in zip(kernel.inputs, inputs):
            event = name in kernel.event_inputs and not (name == "y" and index_y)
            shapes.append(x.shape[:-1] if event else x.shape)
        return jnp.broadcast_shapes(*shapes)

    # The host side: NumPy arrays in, NumPy arrays of the declared shapes and dtypes out
    # (pure_callback insists on them; a 0-d float32 sum comes back from NumPy as float32).
    def host_value(out, weight, *arrays):
        value = kernel(*arrays, weight=weight) if reduction != "none" else kernel.elementwise(*arrays, weight=weight)
        return np.asarray(value, dtype=out.dtype)

    def host_value_and_grad(out, weight, *arrays):
        value, grads = kernel.value_and_grad(*arrays, weight=weight)
        return np.asarray(value, dtype=out[0].dtype), tuple(np.asarray(g, dtype=o.dtype) for g, o in zip(grads, out[1]))

    def host_grad(out, weight, *arrays):
        return tuple(np.asarray(g, dtype=o.dtype) for g, o in zip(kernel.grad(*arrays, weight=weight), out))

    def callback(host, out, weight, inputs):
        return jax.pure_callback(functools.partial(host, out), out, weight, *inputs)

    def value_shape(inputs):
        shape = () if reduction != "none" else observation_shape(inputs)
        return jax.ShapeDtypeStruct(shape, value_dtype(inputs))

    def grad_shapes(inputs):
        return tuple(jax.ShapeDtypeStruct(x.shape, x.dtype) for x in inputs[:count])

    @jax.custom_vjp
    def call(weight, *inputs):
        return callback(host_value, value_shape(inputs), weight, inputs)

    def forward(weight, *inputs):
        if reduction == "none":  # the gradient waits for the cotangent, which weighs the observations
            return call(weight, *inputs), (weight, inputs)
        value, grads = callback(host_value_and_grad, (value_shape(inputs), grad_shapes(inputs)), weight, inputs)
        return value, (weight, grads)

    def backward(residual, cotangent):
        weight, saved = residual
        if reduction == "none":
            w = cotangent if weight is None else cotangent * weight
            grads = callback(host_grad, grad_shapes(saved), w, saved)
        else:
            grads = tuple(g * cotangent for g in saved)
        # The inputs that are not predicted (y, parameters) get no gradient: None is JAX's zero.
        rest = (None,) * (len(kernel.inputs) - count)
        return (None if weight is None else jnp.zeros_like(weight), *grads, *rest)

    call.defvjp(forward, backward)

    def bind(*args, weight=None, **kwargs):
        bound = bind_inputs(kernel.inputs, args, kwargs)
        inputs = [jnp.asarray(bound[n]) for n in kernel.inputs]
        floats = value_dtype(inputs)
        inputs = [x.astype(floats) if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != floats and i < count
                  else x for i, x in enumerate(inputs)]
        weight = None if weight is None else jnp.asarray(weight)
        if not any(isinstance(x, jax.core.Tracer) for x in (*inputs, weight)):
            # Concrete arrays, nothing traced: the kernel runs directly, so a bad input raises
            # its SymlikError here (inside a callback JAX would wrap it in its runtime error).
            host = [np.asarray(x) for x in inputs]
            return jnp.asarray(host_value(value_shape(inputs), None if weight is None else np.asarray(weight), *host))
        return call(weight, *inputs)

    bind.kernel = kernel
    bind.inputs = kernel.inputs
    bind.predicted = predicted
    bind.__doc__ = f"symlik loss {kernel.label} ({target}, reduction {reduction!r}); inputs {', '.join(kernel.inputs)}"
    return bind
