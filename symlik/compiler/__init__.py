"""compile(): derivation -> array kernel, one printer per backend.

Every target (``symlik.compiler.targets``: the loss, the NLL, the gradient,
the score, the Hessian and the Fisher information) takes the same path: a
request for a catalog distribution is looked up in the kernel cache first
(``cache.py``); only on a miss is SymPy imported, the derivation made, the
Plan built (``plan.py``) and the backend's source generated. The backends
are listed in one table (``registry.BACKENDS``): each is a printer
(``generate(plan) -> source``, needs SymPy) and a runtime (``load(source,
meta) -> Kernel``, does not).
"""

from __future__ import annotations

from symlik.core.errors import NotSupportedError, UnknownNameError
from symlik.core.reductions import REDUCTIONS
from symlik.compiler import cache, registry
from symlik.compiler.grad_hess import GradHessKernel
from symlik.compiler.targets import HESSIAN_FORMS, HESSIANS, INFORMATION_TARGETS, SCALAR_TARGETS, TARGETS

BACKENDS = tuple(registry.BACKENDS)

__all__ = ["compile", "compile_information", "BACKENDS", "TARGETS", "INFORMATION_TARGETS", "REDUCTIONS"]


def compile(
    spec,
    target: str = "loss",
    backend: str = "numpy",
    reduction: str | None = None,
    *,
    fixed: dict | None = None,
    predict=None,
    link: str | dict | None = None,
    options: dict | None = None,
    validate: bool = True,
    hessian: str = "exact",
    hessian_form: str = "diagonal",
    **loss_options,
):
    """Compile a derivation into an array kernel.

    Parameters
    ----------
    spec : str, Distribution or Derivation
    target : {"loss", "nll", "grad", "score", "hessian", "fisher", "grad_hess"}
        ``"loss"`` is the canonical loss (``d.loss.expr``); ``"nll"`` the exact NLL;
        ``"grad"`` the loss's per-observation gradient in the predicted inputs
        (``[..., P]``); ``"score"`` (``[..., P]``), ``"hessian"`` and ``"fisher"``
        (``[..., P, P]``) the score, Hessian and Fisher information of one observation
        (scalar distributions). With one predicted input the trailing axes are dropped.
        ``"grad_hess"`` gives, per observation, the NLL's gradient and Hessian in the
        predicted inputs (the link's pre-activations), as a gradient-boosting objective
        needs them: the kernel returns ``(grad, hess)``, ``[..., P]`` each (the Hessian's
        diagonal) or ``[..., P]`` and ``[..., P, P]`` with ``hessian_form="full"``. Its
        ``out=(grad, hess)`` writes them into two arrays the caller keeps (sklearn's
        ``gradient_out``/``hessian_out``). See ``symlik.compiler.targets``.
    backend : {"numpy", "fused", "torch", "jax", "cupy"}
        ``"fused"`` is one multithreaded pass over memory (numba); ``"torch"`` and
        ``"jax"`` are differentiable; ``"cupy"`` runs one generated CUDA kernel.
    reduction : {"mean", "sum", "none"}
        Over observations, like torch's losses. Default ``"mean"``; ``"none"`` (the only
        one) for ``grad_hess``.
    link : str or dict, optional
        A link name, or one per predicted parameter: ``{"mu": "identity", "sigma": "log"}``.
    fixed : dict, optional
        Values for parameters that are neither predicted nor passed at call time.
    validate : bool
        Check array values against constraints and supports on every call.
    **loss_options
        torch.nn.functional's options, with its semantics: ``label_smoothing``,
        ``ignore_index``, ``class_weight`` (cross_entropy's per-class ``weight``),
        ``pos_weight``, ``soft_targets``, ``eps``, ``full``, ``log_input``, ``exact``.
        They are derived symbolically (see ``kernel.derivation.steps``); see
        ``symlik.compiler.options``. Per-sample weights are given at call time:
        ``kernel(..., weight=w)``.
    hessian : {"exact", "fisher", "exact_clipped", "softprob", "multiclass"}
        ``grad_hess`` only: the exact Hessian, the expected one (the Fisher information,
        never negative) or the exact one with its diagonal clipped at 0. For a softmax head
        (categorical or multinomial, ``link="softmax"``) the Hessian is its diagonal over the
        class axis; ``"softprob"`` is XGBoost's ``multi:softprob`` surrogate 2 p (1 - p) and
        ``"multiclass"`` LightGBM's, K/(K - 1) p (1 - p).
    hessian_form : {"diagonal", "full"}
        ``grad_hess`` only: the Hessian's diagonal, or the whole P x P matrix.
    """
    if target not in TARGETS:
        raise UnknownNameError("target", target, TARGETS)
    if reduction is None:
        reduction = "none" if target == "grad_hess" else "mean"
    if reduction not in REDUCTIONS:
        raise UnknownNameError("reduction", reduction, REDUCTIONS)
    if target == "grad_hess":
        if reduction != "none":
            raise NotSupportedError(f"target 'grad_hess' is per observation: reduction must be 'none', not {reduction!r}")
        if hessian not in HESSIANS:
            raise UnknownNameError("hessian", hessian, HESSIANS)
        if hessian_form not in HESSIAN_FORMS:
            raise UnknownNameError("hessian_form", hessian_form, HESSIAN_FORMS)
    elif (hessian, hessian_form) != ("exact", "diagonal"):
        raise NotSupportedError(f"hessian and hessian_form apply to target 'grad_hess', not to {target!r}")
    if backend not in registry.BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    if loss_options and target not in SCALAR_TARGETS:
        raise NotSupportedError(f"torch-style loss options apply to the loss and the NLL, not to target {target!r}")
    if target in SCALAR_TARGETS and (loss_options or getattr(spec, "loss_options", None)):
        if backend != "numpy":  # OptionKernel evaluates NumPy arrays around a NumPy kernel
            raise NotSupportedError(f"torch-style loss options compile for backend 'numpy' only, not {backend!r}")
        return registry.module("options").compile_with_options(
            spec, loss_options, target=target, backend=backend, reduction=reduction, fixed=fixed, validate=validate,
            predict=predict, link=link, options=options,
        )
    chosen = registry.BACKENDS[backend]
    chosen.require()  # a missing optional library says so before any derivation work
    arguments = dict(target=target, backend=backend, reduction=reduction, fixed=fixed or None,
                     predict=predict, link=link, options=options or None)
    hessians = dict(hessian=hessian, hessian_form=hessian_form) if target == "grad_hess" else {}
    request = cache.request_of(spec, **arguments, **hessians)
    key = cache.key_of(request) if request is not None else None
    hit = cache.load(key) if key is not None else None
    if hit is not None:
        source, meta = hit
        try:
            return _wrapped(chosen.load(source, meta, validate=validate, request=request), hessians)
        except Exception:  # noqa: BLE001 - an entry that does not load is discarded and rebuilt below
            cache.forget(key)

    plan_module = registry.module("plan")
    try:
        plan = plan_module.make_plan(
            spec, target=target, reduction=reduction, fixed=fixed, predict=predict, link=link, options=options, **hessians
        )
    except plan_module.EventGradHess:
        return _event_grad_hess(spec, backend, fixed, validate, predict, link, options, **hessians)
    source = chosen.generate(plan)
    meta = plan.meta(backend)
    if key is not None:
        cache.store(key, source, meta)
    return _wrapped(chosen.load(source, meta, validate=validate, request=request, derivation=plan.derivation), hessians)


def _event_grad_hess(spec, backend, fixed, validate, predict, link, options, *, hessian, hessian_form):
    """grad_hess of a softmax head: the gradient and the Hessian's diagonal over the class axis,
    from the NLL kernel (``symlik.compiler.event_grad_hess``)."""
    if hessian_form != "diagonal":
        raise NotSupportedError("target 'grad_hess' of event distributions gives the Hessian's diagonal over the "
                                "class axis only: hessian_form must be 'diagonal'")
    if backend not in ("numpy", "fused", "torch", "jax"):
        raise NotSupportedError(f"target 'grad_hess' of event distributions compiles for backends 'numpy', "
                                f"'fused', 'torch' and 'jax', not {backend!r}")
    # The NumPy NLL kernel binds and checks the inputs for NumPy and fused (which computes in its own loop),
    # and holds the derived expressions that torch and JAX print; their own NLL kernels bind and check theirs.
    nll = compile(spec, target="nll", backend="numpy", reduction="none", fixed=fixed, predict=predict, link=link,
                  options=options, validate=validate)
    module = registry.module("event_grad_hess")
    if backend in ("torch", "jax"):
        library_nll = compile(spec, target="nll", backend=backend, reduction="none", fixed=fixed, predict=predict,
                              link=link, options=options, validate=validate)
        return module.LibraryEventGradHessKernel(library_nll, nll, hessian=hessian)
    return module.EventGradHessKernel(nll, hessian=hessian, fused=backend == "fused")


def _wrapped(kernel, hessians: dict):
    """A grad_hess kernel returns (grad, hess); every other kernel is returned as it is."""
    return GradHessKernel(kernel, **hessians) if hessians else kernel


def compile_information(d, target: str = "fisher", *, backend: str = "numpy", reduction: str = "mean",
                        fixed: dict | None = None, validate: bool = True):
    """The score (``[..., P]``), Hessian or Fisher information (``[..., P, P]``) of ``d``
    as a kernel: ``compile(d, target=target, ...)``, kept under its earlier name.

    Inputs: the predicted inputs first, then ``y`` (score and Hessian only, when they use
    it), then any other parameter the expression needs and ``fixed`` does not hold.
    """
    if target not in INFORMATION_TARGETS:
        raise UnknownNameError("information target", target, INFORMATION_TARGETS)
    return compile(d, target=target, backend=backend, reduction=reduction, fixed=fixed, validate=validate)


def recompile(request: dict, validate: bool):
    """Unpickle a Kernel: compile its request again (a cache hit when warm)."""
    r = dict(request)
    return compile(r.pop("spec"), validate=validate, **r)
