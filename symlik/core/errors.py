"""The exception hierarchy.

Two families, as in latexify: ``SymlikError`` is *bad input* (a ValueError
subclass, so ``except ValueError`` works for users), and
``NotSupportedError`` is a valid request that symlik cannot (yet) serve.
"""

from __future__ import annotations

import difflib


class SymlikError(ValueError):
    """Bad input: an argument broke a rule. The message names both."""


class UnknownNameError(SymlikError, KeyError):
    """A name (distribution, link, loss, backend...) that is not in its table."""

    def __init__(self, kind: str, name: str, known, aliases=None) -> None:
        # ``aliases`` maps another common name to a known one (gaussian -> normal): spelling
        # alone would not find it, so it is suggested first.
        known = sorted(known)
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        alias = (aliases or {}).get(str(name).lower())
        if alias in known:
            close = [alias] + [c for c in close if c != alias][:2]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = f"known: {', '.join(known)}" if known else "there are none"
        super().__init__(f"unknown {kind} {name!r}{hint} ({listing})")
        self.kind, self.name, self.close = kind, name, tuple(close)

    __str__ = ValueError.__str__  # KeyError would repr() the message


class ConstraintError(SymlikError):
    """An argument value violates its constraint (e.g. ``sigma must be > 0``)."""


class NotSupportedError(SymlikError):
    """A well-formed request that symlik cannot serve (e.g. no such link)."""
