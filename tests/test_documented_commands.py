"""Every `symlik ...` command shown to a user runs: README.md, docs/**/*.md and `symlik --help`.

The commands are read out of the files (fenced code blocks, and inline code that carries an
option), so a command added to the docs is tested without an edit here. The cheap ones run in
the fast suite; the whole catalog, the book and the benchmark are slow-marked (the benchmark runs as shown, on small arrays).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from symlik.apps import cli

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Commands about a distribution the reader writes first (the guide's my_gumbel): not in the catalog.
HYPOTHETICAL = ("my_gumbel",)


def _fenced_lines(text: str):
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            yield line


def _inline_commands(text: str):
    for span in re.findall(r"`([^`\n]+)`", text):
        if span.startswith("symlik ") and " --" in span:
            yield span


def _argv(line: str) -> list[str] | None:
    """A shell line `symlik ARGS  # comment` (or `.venv/bin/symlik ...`) as argv; None for other lines."""
    if not re.search(r"(^|[\s/])symlik\s", line):
        return None
    words = shlex.split(line, comments=True)
    for i, word in enumerate(words):
        if word == "symlik" or word.endswith("/symlik"):
            words = words[i + 1 :]
            break
    else:
        return None
    if ">" in words:  # a redirect of the output: the command is what comes before it
        words = words[: words.index(">")]
    if "&&" in words:
        words = words[: words.index("&&")]
    return words


def documented_commands() -> dict[tuple[str, ...], str]:
    """{argv: where it is documented} for every symlik command in the docs and the --help epilog."""
    found: dict[tuple[str, ...], str] = {}
    sources = [(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")) for path in DOCUMENTS]
    for where, text in sources:
        for line in [*_fenced_lines(text), *_inline_commands(text)]:
            argv = _argv(line.strip())
            if argv and not any(h in argv for h in HYPOTHETICAL):
                found.setdefault(tuple(argv), where)
    for line in cli.EXAMPLES.splitlines()[1:]:
        found.setdefault(tuple(_argv(line.strip())), "symlik --help")
    return found


COMMANDS = documented_commands()


def _expensive(argv) -> bool:
    # the whole catalog (and the book), the benchmark
    return "--all" in argv or argv[0] == "bench"


def _params():
    for argv, where in sorted(COMMANDS.items()):
        marks = [pytest.mark.slow] if _expensive(argv) else []
        if argv[0] == "plot":
            marks.append(pytest.mark.skipif(_missing("matplotlib"), reason="plot needs matplotlib"))
        if argv[0] == "bench" and "fused" in argv:
            marks.append(pytest.mark.skipif(_missing("numba"), reason="the fused backend needs numba"))
        yield pytest.param(list(argv), id=f"{where}: symlik {' '.join(argv)}", marks=marks)


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def test_the_docs_show_commands():
    """The extraction finds what a reader sees (a failing extraction would test nothing)."""
    shown = {" ".join(argv) for argv in COMMANDS}
    assert "list" in shown
    assert "plot --compare mse mae log_cosh cauchy -o robust.png" in shown  # docs/getting-started.md
    assert "derive --all --format pdf" in shown
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("argv", list(_params()))
def test_documented_command_runs(argv, tmp_path, monkeypatch, capsys):
    if "--format" in argv and "pdf" in argv:
        import shutil

        if shutil.which("pdflatex") is None:
            pytest.skip("the book needs pdflatex")
    monkeypatch.chdir(tmp_path)  # files the command writes land here
    if argv[0] == "bench":  # the command as shown, on arrays small enough for a test (the last --n wins)
        argv = [*argv, "--n", "10000", "--repeat", "1"]
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's --help prints and exits
        status = exc.code
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "error" not in captured.err
