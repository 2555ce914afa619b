"""The derivation as named passes, in the order of the textbook argument.

Each pass reads the shared ``Context`` and returns its Step (a tuple where it
writes several: the density's own steps, the identify pass's aside, one
gradient per input; None where it does not apply: no link). None writes
LaTeX: reasons are prose and SymPy expressions, left-hand sides are
expressions from symlik.core.notation, and symlik.render typesets them.
"""

from __future__ import annotations

from symlik.core.step import Step
from symlik.derivation.passes.context import Context
from symlik.derivation.passes.density import expand, substitute
from symlik.derivation.passes.gradient import gradient
from symlik.derivation.passes.likelihood import likelihood, log_likelihood, negate
from symlik.derivation.passes.link import link
from symlik.derivation.passes.loss import identify, minimiser, separate

PASSES = (likelihood, log_likelihood, negate, substitute, expand, separate, identify, minimiser, link, gradient)


def run(context: Context, passes=PASSES) -> tuple[Step, ...]:
    """The steps of every pass, in order."""
    steps: list[Step] = []
    for write in passes:
        written = write(context)
        if isinstance(written, Step):
            steps.append(written)
        elif written is not None:
            steps.extend(written)
    return tuple(steps)


__all__ = ["Context", "PASSES", "run"]
