"""compile(): derivation -> array kernel, one printer per backend.

A request for a catalog distribution is looked up in the kernel cache
first (``cache.py``); only on a miss is SymPy imported, the derivation made
and the backend's source generated. Each backend is a module with
``generate(plan) -> source`` (needs SymPy) and ``load(source, meta) ->
Kernel`` (does not).
"""

from __future__ import annotations

from importlib import import_module

from symlik.core.errors import NotSupportedError, UnknownNameError
from symlik.compiler import cache

# backend name -> module implementing generate/load (imported on first use).
BACKEND_MODULES = {
    "numpy": "symlik.compiler.numpy_backend",
    "fused": "symlik.compiler.fused",
    "torch": "symlik.compiler.torch_backend",
    "jax": "symlik.compiler.jax_backend",
    "cupy": "symlik.compiler.cupy_backend",
}
BACKENDS = tuple(BACKEND_MODULES)
TARGETS = ("loss", "nll")
INFORMATION_TARGETS = ("score", "hessian", "fisher")
REDUCTIONS = ("mean", "sum", "none")


def compile(
    spec,
    target: str = "loss",
    backend: str = "numpy",
    reduction: str = "mean",
    *,
    fixed: dict | None = None,
    predict=None,
    link: str | None = None,
    options: dict | None = None,
    validate: bool = True,
    **loss_options,
):
    """Compile a derivation into an array kernel.

    Parameters
    ----------
    spec : str, Distribution or Derivation
    target : {"loss", "nll", "score", "hessian", "fisher"}
        ``"loss"`` is the canonical loss (``d.loss.expr``); ``"nll"`` the exact NLL;
        ``"score"``, ``"hessian"`` and ``"fisher"`` return a P-vector or P x P matrix per
        observation (see ``symlik.analysis.information.compile_information``; NumPy only).
    backend : {"numpy", "fused", "torch", "jax", "cupy"}
        ``"fused"`` is one multithreaded pass over memory (numba); ``"torch"`` and
        ``"jax"`` are differentiable; ``"cupy"`` runs one generated CUDA kernel.
    reduction : {"mean", "sum", "none"}
        Over observations, like torch's losses.
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
    """
    if target in INFORMATION_TARGETS:  # score / Hessian / Fisher information: symlik.analysis.information
        from symlik.derivation import Derivation, derive
        from symlik.analysis.information import compile_information

        if backend != "numpy":
            raise UnknownNameError("backend", backend, ("numpy",))
        d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
        return compile_information(d, target, reduction=reduction, fixed=fixed, validate=validate)
    if target not in TARGETS:
        raise UnknownNameError("target", target, TARGETS + INFORMATION_TARGETS)
    if reduction not in REDUCTIONS:
        raise UnknownNameError("reduction", reduction, REDUCTIONS)
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    if loss_options or getattr(spec, "loss_options", None):
        if backend != "numpy":  # OptionKernel evaluates NumPy arrays around a NumPy kernel
            raise NotSupportedError(f"torch-style loss options compile for backend 'numpy' only, not {backend!r}")
        from symlik.derivation import Derivation, derive
        from symlik.compiler.options import compile_with_options

        d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
        return compile_with_options(
            d, loss_options, target=target, backend=backend, reduction=reduction, fixed=fixed, validate=validate
        )
    module = import_module(BACKEND_MODULES[backend])
    if hasattr(module, "require"):
        module.require()  # a missing optional library says so before any derivation work
    arguments = dict(target=target, backend=backend, reduction=reduction, fixed=fixed or None,
                     predict=predict, link=link, options=options or None)
    request = cache.request_of(spec, **arguments)
    key = cache.key_of(request) if request is not None else None
    hit = cache.load(key) if key is not None else None
    if hit is not None:
        source, meta = hit
        return module.load(source, meta, validate=validate, request=request)

    from symlik.compiler.plan import make_plan

    plan = make_plan(spec, target=target, reduction=reduction, fixed=fixed, predict=predict, link=link, options=options)
    source = module.generate(plan)
    meta = plan.meta(backend)
    if key is not None:
        cache.store(key, source, meta)
    return module.load(source, meta, validate=validate, request=request, derivation=plan.derivation)


def _recompile(request: dict, validate: bool):
    """Unpickle a Kernel: compile its request again (a cache hit when warm)."""
    r = dict(request)
    return compile(r.pop("spec"), validate=validate, **r)


def _checks(d, link_inputs: set) -> dict:
    """{input name: (check, rule)} for a derivation's inputs (used by symlik.analysis.information)."""
    from symlik.compiler import checks

    return checks.build(checks.describe(d, link_inputs))
