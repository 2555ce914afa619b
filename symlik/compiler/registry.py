"""The compiler's tables of modules, imported on first use.

A warm kernel-cache hit runs compile() -> cache -> a backend's runtime ->
Kernel and never imports SymPy (tests/test_cache.py checks it). The modules
that do import SymPy (the printers, the Plan, the gradient code, the
derivation) are therefore named here, as text, and resolved with
``importlib.import_module`` when first needed: pip's command table is the
model, as the distribution registry is.

BACKENDS is the one place that lists backends. A backend is two modules:

* its printer, ``generate(plan) -> source``: needs SymPy, runs on a cache miss;
* its runtime, ``load(source, meta, **kernel_kwargs) -> Kernel``: no SymPy.

Adding a backend is writing those two modules and one line here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import import_module

from symlik.core.errors import NotSupportedError


@dataclass(frozen=True)
class Backend:
    name: str
    printer: str  # "module:function" of generate(plan) -> source
    runtime: str  # module with load(source, meta, **kernel_kwargs) -> Kernel
    library: str | None = None  # the optional library it needs (checked before any derivation work)
    install: str = ""  # how to get it
    needs: str = ""  # what it needs, in words (the library's name by default)

    def require(self) -> None:
        if self.library is not None and importlib.util.find_spec(self.library) is None:
            raise NotSupportedError(f"backend {self.name!r} needs {self.needs or self.library}: {self.install}")

    def generate(self, plan) -> str:
        module, function = self.printer.split(":")
        return getattr(import_module(module), function)(plan)

    def load(self, source: str, meta: dict, **kernel_kwargs):
        self.require()
        return import_module(self.runtime).load(source, meta, **kernel_kwargs)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("numpy", "symlik.compiler.codegen:generate", "symlik.compiler.numpy_backend"),
        Backend("fused", "symlik.compiler.scalar_codegen:generate", "symlik.compiler.fused", "numba",
                "pip install numba (or symlik[fused])"),
        Backend("torch", "symlik.compiler.xp_printers:generate_torch", "symlik.compiler.torch_backend", "torch",
                "pip install torch (or symlik[torch])"),
        Backend("jax", "symlik.compiler.xp_printers:generate_jax", "symlik.compiler.jax_backend", "jax",
                "pip install jax (or symlik[jax])"),
        Backend("cupy", "symlik.compiler.cuda_codegen:generate", "symlik.compiler.cupy_backend", "cupy",
                "pip install cupy-cuda12x", "CuPy and a CUDA GPU"),
    )
}

# symlik's own modules that the light side (compile(), Kernel) needs only on a cache miss
# or on demand; each imports SymPy.
MODULES = {
    "plan": "symlik.compiler.plan",  # Derivation -> Plan
    "grad": "symlik.compiler.grad",  # Kernel.grad: the generated gradient code
    "options": "symlik.compiler.options",  # torch-style loss options (derived symbolically)
    "derivation": "symlik.derivation",  # derive(), for a kernel that came from the cache
    "event_grad_hess": "symlik.compiler.event_grad_hess",  # grad_hess of softmax heads
    "fused_runtime": "symlik.compiler._fused_runtime",  # numba's loops (the fused extra), for backend='fused'
}


def module(name: str):
    """The module registered as ``name`` in MODULES, imported on first use."""
    return import_module(MODULES[name])
