"""The subcommands of ``symlik``: one module each, imported only when its command runs.

Each module has ``run(args) -> int`` (the exit status); ``symlik.apps.cli`` parses the
arguments and calls it. Failures a user can fix raise ``CommandError`` or a
``SymlikError``; the CLI prints either as one line.
"""

from __future__ import annotations

from importlib import import_module

from symlik.core.errors import SymlikError

# subcommand -> module that runs it. A table of names, resolved with importlib only for the
# command being run (pip's commands table is the model), so that `symlik --help`, `symlik list`
# and a cached `symlik derive` never import what another command needs (SymPy, matplotlib,
# the backends). "book" is `symlik derive --all --format pdf`.
COMMANDS = {
    "list": "symlik.apps.commands.list",
    "derive": "symlik.apps.commands.derive",
    "book": "symlik.apps.commands.book",
    "plot": "symlik.apps.commands.plot",
    "bench": "symlik.apps.commands.bench",
    "implied": "symlik.apps.commands.implied",
}


class CommandError(SymlikError):
    """Arguments that do not go together, or do not parse: the message says which (a ValueError,
    like every error a user can fix)."""


def run(command: str, args) -> int:
    return import_module(COMMANDS[command]).run(args)
