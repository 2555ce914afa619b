"""Progress of a long command (`derive --all`, the book), on stderr: a bar on a terminal, one
plain line per finished item otherwise (a log, a CI job, a pipe), so stdout keeps only the output.

The bar is rich's (a dependency); it is imported only when a terminal shows it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


class _Lines:
    """One line per finished item: 'symlik: derive --all 3/129 normal-mu'."""

    def __init__(self, what: str, total: int, stream):
        self.what, self.total, self.stream, self.done = what, total, stream, 0

    def advance(self, item: str = "") -> None:
        self.done += 1
        print(f"symlik: {self.what} {self.done}/{self.total}" + (f" {item}" if item else ""), file=self.stream, flush=True)


class _Bar:
    def __init__(self, bar, task):
        self.bar, self.task = bar, task

    def advance(self, item: str = "") -> None:
        self.bar.update(self.task, advance=1, item=item)


@contextmanager
def progress(what: str, total: int, stream=None):
    """``with progress("derive --all", n) as p: ... p.advance(name)`` after each of the n items."""
    stream = sys.stderr if stream is None else stream
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield _Lines(what, total, stream)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"symlik: {what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[item]}"))
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        yield _Bar(bar, bar.add_task(what, total=total, item=""))
