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
as the observations' weight. The call is a ``torch.library`` custom operator
with a shape-only ("fake") implementation, so ``torch.compile`` (fullgraph
included) keeps it as one opaque node instead of tracing NumPy. On other
devices the torch backend's kernel runs on the device and torch's autograd
differentiates it (a loss with torch-style options, which compile for NumPy
only, copies to the host there).

This module sits above the compiler in the layers (``.importlinter``); it is
loaded only when ``symlik.torch`` is first used, so it imports torch at the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import symlik.compiler
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
        if len(args) > len(names):
            raise SymlikError(f"too many positional inputs: expected at most {len(names)} ({', '.join(names)}), got {len(args)}")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise SymlikError(f"unexpected input {key!r}; inputs are {', '.join(names)}")
            if key in bound:
                raise SymlikError(f"input {key!r} given twice (by position and by keyword)")
            bound[key] = value
        missing = [n for n in names if n not in bound]
        if missing:
            raise SymlikError(f"missing input(s) {', '.join(missing)}; inputs are {', '.join(names)}")
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

    def forward(self, *args, weight=None, **kwargs) -> torch.Tensor:
        tensors = self._bind(args, kwargs)
        if weight is not None and not isinstance(weight, torch.Tensor):
            weight = torch.as_tensor(weight, dtype=tensors[0].dtype, device=tensors[0].device)
        if tensors[0].device.type != "cpu" and not self.loss_options:
            return self._on_device(tensors, weight)
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
