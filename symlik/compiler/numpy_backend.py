"""The NumPy backend: one vectorised Python function per kernel form.

``generate`` (needs SymPy) prints the source; ``load`` (NumPy only) executes
it. The other array-library backends reuse both, with their own printer
and runtime namespace.
"""

from __future__ import annotations

import builtins

from symlik.compiler import _numpy_runtime


def generate(plan, printer_class=None) -> str:
    """Source of ``dense`` (and ``index`` for class-index targets) for ``plan``."""
    from symlik.compiler.codegen import SymlikNumPyPrinter, function_source

    printer_class = printer_class or SymlikNumPyPrinter

    def printer():
        return printer_class(event_index=plan.event_index, event_size=plan.event_size, scalar_arrays=plan.scalar_arrays)

    source = function_source("dense", plan.dense, plan.args, printer=printer(), event_size_from=plan.first_event)
    if plan.index is not None:
        source += "\n\n" + function_source(
            "index", plan.index, plan.args, printer=printer(), event_size_from=plan.first_event,
            gathers=[n for n in plan.event_inputs if n != "y"],
        )
    return source


def exec_source(source: str, namespace: dict, label: str) -> dict:
    """Run generated source in a copy of ``namespace``; return its kernel functions."""
    ns = dict(namespace)
    exec(builtins.compile(source, f"<symlik kernel {label}>", "exec"), ns)  # noqa: S102 - our own generated code
    return {name: ns[name] for name in ("dense", "index") if name in ns}


def load(source: str, meta: dict, **kernel_kwargs):
    from symlik.compiler.kernel import Kernel

    functions = exec_source(source, _numpy_runtime.NAMESPACE, meta["label"])
    return Kernel.from_meta(functions=functions, source=source, meta=meta, **kernel_kwargs)
