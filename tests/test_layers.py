"""The layers (docs/architecture.md): the import-linter contract holds, and a function imports
only an optional third-party library, or the renderer at the one presentation hook."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import symlik

PACKAGE = Path(symlik.__file__).parent
REPO = PACKAGE.parent
# The one documented presentation hook (symlik/core/presentation.py): to_latex() and friends
# import symlik.render when called, the way SymPy's Printable imports its printers.
HOOKS = {("symlik.core.presentation", "symlik.render")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def function_local_imports():
    """(module, imported module, line) for every import statement inside a function."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield _module_name(path), alias.name, node.lineno
                elif isinstance(node, ast.ImportFrom):
                    # A relative import inside a function would be symlik's own: name it so.
                    yield _module_name(path), ("symlik." if node.level else "") + (node.module or ""), node.lineno


def _kind(imported: str) -> str:
    top = imported.split(".")[0]
    if top == "symlik":
        return "symlik"
    if top in sys.stdlib_module_names or top == "__future__":
        return "stdlib"
    return "third-party"


def test_function_local_imports_are_third_party_or_the_presentation_hook():
    bad = [
        f"{module}:{line} imports {imported} ({kind})"
        for module, imported, line in function_local_imports()
        if (kind := _kind(imported)) != "third-party" and (module, imported) not in HOOKS
    ]
    assert not bad, "a function may import only an optional third-party library:\n" + "\n".join(bad)


def test_the_scan_sees_function_local_imports(tmp_path):
    """The scan is not vacuous: the presentation hook's own imports are found."""
    found = {(m, i) for m, i, _ in function_local_imports()}
    assert HOOKS <= found


def test_import_linter_layers_contract_holds():
    # import-linter is in the test extra, so CI always runs this (no skip).
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "1 kept, 0 broken" in r.stdout


def test_no_private_name_is_imported_across_packages():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _module_name(path)
        package = here if path.name == "__init__.py" else here.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("symlik"):
                source_package = node.module if (REPO / node.module.replace(".", "/")).is_dir() else node.module.rpartition(".")[0]
                for alias in node.names:
                    if alias.name.startswith("_") and source_package != package:
                        bad.append(f"{here}:{node.lineno} imports {node.module}.{alias.name}")
    assert not bad, "\n".join(bad)
