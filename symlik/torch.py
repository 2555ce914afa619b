"""``symlik.torch``: a symlik loss as a ``torch.nn.Module``, with symlik's symbolic gradient.

>>> import torch, symlik.torch
>>> loss = symlik.torch.Loss("categorical", link="softmax")   # nn.CrossEntropyLoss()
>>> logits = torch.zeros(4, 3, requires_grad=True)
>>> value = loss(logits, torch.tensor([0, 1, 2, 0]))
>>> round(float(value), 6), round(float(torch.log(torch.tensor(3.0))), 6)
(1.098612, 1.098612)

``Loss(spec, predict=None, link=None, reduction="mean", **loss_options)`` takes
what ``symlik.compile`` takes, and is called like its kernel: the predicted
inputs first (in ``predict`` order), then the target ``y``, then any parameter
neither predicted nor fixed; ``weight=`` multiplies each observation's value.

What stands in for which torch loss (the canonical loss is the default target):

=======================================================  ==========================================
symlik                                                   torch
=======================================================  ==========================================
``Loss("categorical", link="softmax")``                  ``nn.CrossEntropyLoss()`` (class indices
                                                         or probability targets)
``Loss("bernoulli", link="logit")``                      ``nn.BCEWithLogitsLoss()``
``Loss("normal", predict=("mu", "sigma"))``              ``nn.GaussianNLLLoss()`` with var = sigma**2,
                                                         called ``(mu, sigma, y)``
``Loss("poisson", link="log")``                          ``nn.PoissonNLLLoss(log_input=True)``
``Loss("normal")`` / ``Loss("laplace")``                 ``nn.MSELoss()`` / ``nn.L1Loss()``
``Loss("huber", delta=1.0)``                             ``nn.HuberLoss()``
=======================================================  ==========================================

How it runs. On CPU tensors the forward pass is one call of the NumPy kernel's
``value_and_grad``: the value and the symbolic gradient (``compiler/grad.py``,
the derivative of the stable form, after common-subexpression elimination)
come from one generated function, and backward only scales the stored
gradient by the incoming one. With ``reduction="none"`` the gradient depends on
the incoming per-observation gradient, so backward calls the gradient with it
as the observations' weight. In eager mode the call is a plain
``torch.autograd.Function`` (a custom operator's dispatch costs tens of
microseconds a call); with the usual inputs (CPU tensors of one float dtype,
shaped as torch's losses take them, no ``weight``) it hands the tensors' memory
to the generated function as ``.numpy()`` views, with no binding, promotion or
shape rules to run (the values are checked on those views, unless
``validate=False``), and anything else takes the kernel's general path, which
converts, checks and raises. Under ``torch.compile``
(``torch.compiler.is_compiling()``) the call is a ``torch.library`` custom
operator with a shape-only ("fake") implementation, so the compiler (fullgraph
included) keeps it as one opaque node instead of tracing NumPy. On other
devices the torch backend's kernel runs on the device and torch's autograd
differentiates it (a loss with torch-style options, which compile for NumPy
only, copies to the host there).

This module sits above the compiler in the layers (``.importlinter``); it is
loaded only when ``symlik.torch`` is first used, so it imports torch at the top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

import symlik.compiler
import symlik.compiler.grad
import symlik.compiler.kernel
from symlik.compiler.kernel import bind_inputs, reduce_observations
from symlik.core.errors import NotSupportedError, SymlikError

__all__ = ["Loss"]

# The NumPy kernels behind the custom operators, by key: an operator's arguments must be
# tensors, numbers or strings, so each Loss registers its kernel here and passes its key.
# Entries are kept for the session: an autograd graph can outlive the Loss that built it
# (``Loss(...)(z, y).backward()``). A Loss of a catalog name with plain options reuses the
# entry of an equal one, so building a Loss in a training loop does not grow the table.
_KERNELS: dict = {}
_KEY_OF: dict = {}


@dataclass(frozen=True)
class _Registered:
    kernel: object  # the NumPy kernel (or OptionKernel)
    predicted: tuple  # its differentiable inputs, which come first in kernel.inputs


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().resolve_conj().numpy()


def _tensor(a, like: torch.Tensor) -> torch.Tensor:
    a = np.asarray(a)
    return torch.from_numpy(a if a.flags.writeable else a.copy()).to(like.device)


def _call_inputs(key: str, inputs, weight):
    kernel = _KERNELS[key].kernel
    arrays = [_numpy(t) for t in inputs]
    return kernel, arrays, (None if weight is None else _numpy(weight))


def _observation_shape(key: str, inputs) -> tuple:
    """The observations' shape (every input broadcast, less the event axis), as the kernel sees it."""
    kernel = _KERNELS[key].kernel
    shapes = []
    index_y = False
    if kernel.index_targets:
        y = inputs[kernel.inputs.index("y")]
        ref = next(inputs[kernel.inputs.index(n)] for n in kernel.event_inputs if n != "y" and n in kernel.inputs)
        index_y = not y.dtype.is_floating_point and y.dtype != torch.bool and y.ndim == ref.ndim - 1
    for name, t in zip(kernel.inputs, inputs):
        event = name in kernel.event_inputs and not (name == "y" and index_y)
        shapes.append(tuple(t.shape[:-1]) if event else tuple(t.shape))
    return tuple(torch.broadcast_shapes(*shapes))


def _value_dtype(inputs, count: int) -> torch.dtype:
    floats = [t.dtype for t in inputs[:count] if t.dtype.is_floating_point]
    return floats[0] if floats else torch.get_default_dtype()


def _register(entry: _Registered, description) -> str:
    key = _KEY_OF.get(description) if description is not None else None
    if key is None:
        key = f"loss{len(_KERNELS)}"
        _KERNELS[key] = entry
        if description is not None:
            _KEY_OF[description] = key
    return key


# -- the operators -----------------------------------------------------------------------------
@torch.library.custom_op("symlik::value_and_grad", mutates_args=())
def value_and_grad_op(key: str, inputs: list[torch.Tensor], weight: torch.Tensor | None) -> list[torch.Tensor]:
    """[reduced value, gradient of each predicted input]: one pass of the generated code."""
    kernel, arrays, w = _call_inputs(key, inputs, weight)
    value, grads = kernel.value_and_grad(*arrays, weight=w)
    like = inputs[0]
    return [_tensor(value, like), *(_tensor(g, like) for g in grads)]


@value_and_grad_op.register_fake
def _(key, inputs, weight):
    count = len(_KERNELS[key].predicted)
    dtype = _value_dtype(inputs, count)
    return [inputs[0].new_empty((), dtype=dtype), *(torch.empty_like(t) for t in inputs[:count])]


def _setup_value_and_grad(ctx, inputs, output):
    ctx.count = len(output) - 1
    ctx.n_inputs = len(inputs[1])
    ctx.save_for_backward(*output[1:])


def _backward_value_and_grad(ctx, grad_outputs):
    scale = grad_outputs[0]
    grads = [g * scale for g in ctx.saved_tensors]
    return None, grads + [None] * (ctx.n_inputs - ctx.count), None


value_and_grad_op.register_autograd(_backward_value_and_grad, setup_context=_setup_value_and_grad)


@torch.library.custom_op("symlik::value", mutates_args=())
def value_op(key: str, inputs: list[torch.Tensor], weight: torch.Tensor | None) -> torch.Tensor:
    """The reduced value alone (nothing to differentiate: evaluation, no_grad)."""
    kernel, arrays, w = _call_inputs(key, inputs, weight)
    return _tensor(kernel(*arrays, weight=w), inputs[0])


@value_op.register_fake
def _(key, inputs, weight):
    return inputs[0].new_empty((), dtype=_value_dtype(inputs, len(_KERNELS[key].predicted)))


@torch.library.custom_op("symlik::elementwise", mutates_args=())
def elementwise_op(key: str, inputs: list[torch.Tensor], weight: torch.Tensor | None) -> torch.Tensor:
    """Per-observation values (``reduction="none"``)."""
    kernel, arrays, w = _call_inputs(key, inputs, weight)
    return _tensor(kernel.elementwise(*arrays, weight=w), inputs[0])


@elementwise_op.register_fake
def _(key, inputs, weight):
    dtype = _value_dtype(inputs, len(_KERNELS[key].predicted))
    return inputs[0].new_empty(_observation_shape(key, inputs), dtype=dtype)


@torch.library.custom_op("symlik::weighted_grad", mutates_args=())
def weighted_grad_op(key: str, inputs: list[torch.Tensor], weight: torch.Tensor) -> list[torch.Tensor]:
    """The gradient of sum_i weight_i * loss_i in each predicted input."""
    kernel, arrays, w = _call_inputs(key, inputs, weight)
    _, grads = kernel.value_and_grad(*arrays, weight=w)
    return [_tensor(g, inputs[0]) for g in grads]


@weighted_grad_op.register_fake
def _(key, inputs, weight):
    return [torch.empty_like(t) for t in inputs[: len(_KERNELS[key].predicted)]]


def _setup_elementwise(ctx, inputs, output):
    key, tensors, weight = inputs
    ctx.key = key
    ctx.save_for_backward(*tensors, *(() if weight is None else (weight,)))
    ctx.n_inputs = len(tensors)


def _backward_elementwise(ctx, grad_output):
    saved = ctx.saved_tensors
    tensors, weight = list(saved[: ctx.n_inputs]), (saved[ctx.n_inputs] if len(saved) > ctx.n_inputs else None)
    # d/dx sum_i g_i * w_i * loss_i: the incoming gradient is the observations' weight.
    w = grad_output if weight is None else grad_output * weight
    grads = weighted_grad_op(ctx.key, tensors, w)
    return None, list(grads) + [None] * (ctx.n_inputs - len(grads)), None


elementwise_op.register_autograd(_backward_elementwise, setup_context=_setup_elementwise)


# -- eager mode: a plain autograd.Function ----------------------------------------------------
class _EagerValueAndGrad(torch.autograd.Function):
    """Outside ``torch.compile``: the forward pass computes the value and symlik's gradient in one
    call (``compute``), and backward scales the stored gradient by the incoming one. A plain
    Function dispatches in a few microseconds, where a custom operator's dispatch (schema checks,
    pytree flattening) costs tens; the custom operators are kept for ``torch.compile``."""

    @staticmethod
    def forward(ctx, compute, event_flags, *tensors):
        value, grads = compute()
        ctx.grads = grads  # intermediates, not inputs or outputs: kept on ctx, not save_for_backward
        ctx.event_flags = event_flags
        ctx.n_inputs = len(tensors)
        return value

    @staticmethod
    def backward(ctx, grad_output):
        if grad_output.ndim:  # reduction="none": per-observation gradients times the incoming ones
            scaled = [g * (grad_output[..., None] if event else grad_output) for g, event in zip(ctx.grads, ctx.event_flags)]
        else:
            # Not in place: backward may run again on the same graph (retain_graph=True).
            scaled = [g * grad_output for g in ctx.grads]
        return None, None, *scaled, *([None] * (ctx.n_inputs - len(scaled)))


class _EagerElementwise(torch.autograd.Function):
    """``reduction="none"`` where the fast path does not apply (broadcast inputs, a weight, torch-style
    options): backward is the gradient of sum_i g_i w_i loss_i, the incoming gradient as the weight."""

    @staticmethod
    def forward(ctx, kernel, count, weight, *tensors):
        arrays = [_numpy(t) for t in tensors]
        ctx.kernel, ctx.count, ctx.arrays = kernel, count, arrays
        ctx.weight = weight
        return _tensor(kernel.elementwise(*arrays, weight=None if weight is None else _numpy(weight)), tensors[0])

    @staticmethod
    def backward(ctx, grad_output):
        w = grad_output if ctx.weight is None else grad_output * ctx.weight
        grads = ctx.kernel.grad(*ctx.arrays, weight=_numpy(w))
        like = grad_output
        return None, None, None, *(_tensor(g, like) for g in grads), *([None] * (len(ctx.arrays) - ctx.count))


class _FastPath:
    """Everything a call needs that does not depend on the call, worked out once per Loss; and
    the call itself for the common case (CPU tensors of one float dtype, the shapes torch's losses
    take, no weight): the tensors' memory is handed to the generated NumPy function as views,
    with no binding, dtype promotion or shape rules to run, and the values are checked on those
    views where the Loss validates.

    ``arrays`` returns None wherever that case does not hold, and the Loss takes the kernel's
    general path (which converts, checks and raises)."""

    def __init__(self, kernel, predicted: tuple) -> None:
        self.kernel = kernel
        self.names = kernel.inputs
        self.count = len(predicted)
        self.event = tuple(n in kernel.event_inputs for n in self.names)
        self.event_flags = self.event[: self.count]
        self.y_at = self.names.index("y") if "y" in self.names else None
        self.reduction = kernel.reduction
        # Fixed values given as Python numbers are weak, as the kernel takes them: they take the
        # arrays' dtype. Anything else (an array) goes the general way.
        plain = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in kernel.fixed.values())
        self.enabled = plain and type(kernel) is symlik.compiler.kernel.Kernel
        self.validate = kernel.validate
        self.fixed = {dt: {n: dt.type(v) for n, v in kernel.fixed.items()} for dt in (np.dtype(np.float32), np.dtype(np.float64))}
        self._gradients = None

    def arrays(self, tensors):
        """(keyword arguments of the generated function, mode, observation shape, dtype), or None."""
        first = tensors[0]
        dtype = first.dtype
        if dtype not in _FLOATS or first.device.type != "cpu":
            return None
        event = self.event
        shape = first.shape
        obs = shape[:-1] if event[0] else shape
        mode = "dense"
        call = {}
        for i, (name, t) in enumerate(zip(self.names, tensors)):
            if t.device.type != "cpu" or t.layout is not torch.strided:
                return None
            s = t.shape
            if t.dtype != dtype:
                # Class indices: the logits' shape less the class axis (torch's rule).
                if i != self.y_at or not self.kernel.index_targets or t.dtype not in _INDEX or s != obs:
                    return None
                mode = "index"
            elif (s[:-1] if event[i] else s) != obs or (event[i] and s[-1] != shape[-1]):
                return None
            call[name] = t.detach().numpy()
        np_dtype = call[self.names[0]].dtype
        call.update(self.fixed[np_dtype])
        if self.validate:
            # The kernel's own checks on views of the tensors' memory (no copy, no conversion): the
            # same first offending index and message as the general path.
            self.kernel._validate(call, mode == "index")
        return call, mode, tuple(obs), np_dtype

    def value(self, prepared) -> torch.Tensor:
        call, mode, obs, dtype = prepared
        with np.errstate(over="ignore", under="ignore"):
            out = symlik.compiler.grad.value_functions(self.kernel)[mode](**call)
        return torch.from_numpy(self._reduced(out, obs, dtype))

    def value_and_grad(self, prepared):
        call, mode, obs, dtype = prepared
        if self._gradients is None:
            self._gradients = symlik.compiler.grad.build(self.kernel).value_and_grad
        with np.errstate(over="ignore", under="ignore"):
            value, grads = self._gradients[mode](**call)
        n = 1 if self.reduction != "mean" else max(math.prod(obs), 1)
        out = []
        for name, g in zip(self.names, grads):
            a = call[name]
            g = np.asarray(g, dtype=dtype)
            if g.shape != a.shape:  # a gradient that is constant in some input: one value per element
                g = np.broadcast_to(g, a.shape)
            if n != 1:
                g = g / n  # a Python int: the division stays in the input's dtype
            elif not g.flags.writeable:
                g = g.copy()  # torch.from_numpy needs a writeable array
            out.append(torch.from_numpy(g))
        return torch.from_numpy(self._reduced(value, obs, dtype)), out

    def _reduced(self, out, obs, dtype):
        out = np.asarray(out, dtype=dtype)
        if out.shape != obs:
            out = np.broadcast_to(out, obs)
        if self.reduction == "none":
            return out if out.flags.writeable else out.copy()
        return np.asarray(reduce_observations(out, self.reduction))


_FLOATS = (torch.float32, torch.float64)
_INDEX = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


# -- the module ---------------------------------------------------------------------------------
class Loss(torch.nn.Module):
    """A symlik loss as an ``nn.Module``; see the module's docstring for the torch losses it replaces.

    Parameters
    ----------
    spec : str, Distribution or Derivation
        What ``symlik.compile`` takes (``"categorical"``, ``"bernoulli"``, ...).
    predict, link : as in ``symlik.derive``.
    reduction : {"mean", "sum", "none"}
        Over observations, like torch's losses.
    target : {"loss", "nll"}
        The canonical loss (default: what the torch loss computes) or the exact NLL.
    fixed : dict, optional
        Values for parameters that are neither predicted nor passed at call time.
    validate : bool
        Check the inputs' values (``sigma > 0``, labels in range, ...) on every call.
    **loss_options
        torch's loss options (``label_smoothing``, ``ignore_index``, ``class_weight``,
        ``pos_weight``, ``eps``, ``full``, ``log_input``, ...), as ``symlik.compile`` takes them.

    Call it with tensors (``[..., C]`` logits for the vector distributions, the event on the
    last axis; class-index targets ``[...]``). Gradients flow to the predicted inputs; an input
    that is not predicted (the target, a parameter) must not require a gradient.
    """

    def __init__(self, spec, predict=None, link=None, reduction: str = "mean", *, target: str = "loss",
                 fixed: dict | None = None, validate: bool = True, **loss_options) -> None:
        super().__init__()
        if target not in ("loss", "nll"):
            raise SymlikError(f"target must be 'loss' or 'nll' for a training loss; got {target!r}")
        self.spec, self.predict, self.link, self.reduction = spec, predict, link, reduction
        self.target, self.loss_options = target, dict(loss_options)
        self._compile_args = dict(target=target, reduction=reduction, fixed=fixed, predict=predict, link=link,
                                  validate=validate, **loss_options)
        self.kernel = symlik.compiler.compile(spec, backend="numpy", **self._compile_args)
        # The differentiable inputs: the predicted ones, which come first in the kernel's order.
        self.predicted = tuple(self.kernel.derivation.predicted_inputs)
        self._key = _register(_Registered(self.kernel, self.predicted), self._description(spec))
        self._device_kernel = None
        self._fast = _FastPath(self.kernel, self.predicted)
        self._plain = not self.loss_options  # torch-style options compile for NumPy only

    def _description(self, spec):
        """A text that identifies this Loss's kernel, or None where text cannot (a Distribution
        or Derivation object, an array option whose repr would be abridged)."""
        plain = (str, int, float, bool, type(None), tuple)
        values = [*self._compile_args.values(), *(self._compile_args.get("fixed") or {}).values()]
        if not isinstance(spec, str) or not all(isinstance(v, plain) for v in values if not isinstance(v, dict)):
            return None
        return repr((spec, sorted(self._compile_args.items(), key=lambda item: item[0])))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The call's inputs, in positional order (``kernel.inputs``)."""
        return self.kernel.inputs

    def extra_repr(self) -> str:
        shown = [repr(self.spec)] + [f"{k}={v!r}" for k, v in (("predict", self.predict), ("link", self.link)) if v]
        shown += [f"reduction={self.reduction!r}"] + [f"{k}={v!r}" for k, v in self.loss_options.items()]
        return ", ".join(shown)

    def _bind(self, args, kwargs) -> list[torch.Tensor]:
        names = self.kernel.inputs
        bound = bind_inputs(names, args, kwargs)
        like = next((v for v in bound.values() if isinstance(v, torch.Tensor)), None)
        tensors = []
        for name in names:
            value = bound[name]
            if not isinstance(value, torch.Tensor):
                value = torch.as_tensor(value, device=None if like is None else like.device)
                if value.is_floating_point() and like is not None and like.is_floating_point():
                    value = value.to(like.dtype)
            elif value.requires_grad and name not in self.predicted:
                raise NotSupportedError(
                    f"{name} requires a gradient, but symlik's gradient is in the predicted inputs "
                    f"({', '.join(self.predicted)}) only; detach it or predict it"
                )
            tensors.append(value)
        return tensors

    def _tensors(self, args, kwargs) -> list[torch.Tensor]:
        """The inputs as tensors, in the kernel's order; positional tensors (the usual call) skip
        the general binding."""
        names = self.kernel.inputs
        if kwargs or len(args) != len(names) or not all(isinstance(a, torch.Tensor) for a in args):
            return self._bind(args, kwargs)
        for name, t in zip(names[len(self.predicted):], args[len(self.predicted):]):
            if t.requires_grad:
                return self._bind(args, kwargs)  # which raises, naming the input
        return list(args)

    def forward(self, *args, weight=None, **kwargs) -> torch.Tensor:
        tensors = self._tensors(args, kwargs)
        if weight is not None and not isinstance(weight, torch.Tensor):
            weight = torch.as_tensor(weight, dtype=tensors[0].dtype, device=tensors[0].device)
        if tensors[0].device.type != "cpu" and self._plain:
            return self._on_device(tensors, weight)
        if torch.compiler.is_compiling():
            return self._compiled(tensors, weight)
        count = len(self.predicted)
        need_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors[:count])
        fast = self._fast
        prepared = fast.arrays(tensors) if fast.enabled and weight is None else None
        if prepared is not None:
            if not need_grad:
                return fast.value(prepared)
            return _EagerValueAndGrad.apply(lambda: fast.value_and_grad(prepared), fast.event_flags, *tensors[:count])
        if self.reduction == "none":
            if need_grad:
                return _EagerElementwise.apply(self.kernel, count, weight, *tensors)
            return self._elementwise(tensors, weight)
        if not need_grad:
            kernel, arrays, w = _call_inputs(self._key, tensors, weight)
            return _tensor(kernel(*arrays, weight=w), tensors[0])

        def general():
            kernel, arrays, w = _call_inputs(self._key, tensors, weight)
            value, grads = kernel.value_and_grad(*arrays, weight=w)
            like = tensors[0]
            return _tensor(value, like), [_tensor(g, like) for g in grads]

        return _EagerValueAndGrad.apply(general, fast.event_flags, *tensors[:count])

    def _elementwise(self, tensors, weight):
        kernel, arrays, w = _call_inputs(self._key, tensors, weight)
        return _tensor(kernel.elementwise(*arrays, weight=w), tensors[0])

    def _compiled(self, tensors, weight):
        """Under ``torch.compile``: the custom operators, which the compiler keeps as opaque nodes."""
        if self.reduction == "none":
            return elementwise_op(self._key, tensors, weight)
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors[: len(self.predicted)]):
            return value_and_grad_op(self._key, tensors, weight)[0]
        return value_op(self._key, tensors, weight)

    def _on_device(self, tensors, weight):
        """Off the CPU: the torch backend's kernel on the device, differentiated by torch's autograd."""
        if self._device_kernel is None:
            self._device_kernel = symlik.compiler.compile(self.spec, backend="torch", **self._compile_args)
        return self._device_kernel(*tensors, weight=weight)
