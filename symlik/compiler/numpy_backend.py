"""The NumPy backend's runtime: one vectorised Python function per kernel form.

``load`` (NumPy only, no SymPy) executes the source that the printer
(``codegen.generate``) wrote, in the namespace of ``_numpy_runtime``. The
torch and JAX runtimes reuse ``exec_source`` with their own namespaces.
"""

from __future__ import annotations

import builtins

from symlik.compiler import _numpy_runtime
from symlik.compiler.kernel import Kernel


def exec_source(source: str, namespace: dict, label: str) -> dict:
    """Run generated source in a copy of ``namespace``; return its kernel functions."""
    ns = dict(namespace)
    exec(builtins.compile(source, f"<symlik kernel {label}>", "exec"), ns)  # noqa: S102 - our own generated code
    return {name: ns[name] for name in ("dense", "index") if name in ns}


def load(source: str, meta: dict, **kernel_kwargs) -> Kernel:
    functions = exec_source(source, _numpy_runtime.NAMESPACE, meta["label"])
    return Kernel.from_meta(functions=functions, source=source, meta=meta, **kernel_kwargs)
