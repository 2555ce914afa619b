"""symlik implied: the density a loss implies, p(y | theta) = exp(-loss) / Z(theta), rendered."""

from __future__ import annotations

from importlib import import_module

from symlik.apps.commands import CommandError
from symlik.apps.commands.derive import option_pairs, param_pairs


def _number(key, text):
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise CommandError(f"--inner {key} must be a number; got {text!r}") from None


def run(args) -> int:
    if (args.loss is None) == (args.formula is None):
        raise CommandError("implied needs a LOSS template name or --formula, not both")
    if args.formula is None and (args.param or args.predict):
        raise CommandError("--param and --predict go with --formula")
    if args.formula is not None and args.inner:
        raise CommandError("--inner goes with a LOSS template name")
    # symlik.analysis.implied imports SymPy: resolved here, when the command runs.
    implied = import_module("symlik.analysis.implied")
    if args.formula is not None:
        params = dict(param_pairs(args.param))
        result = implied.implied_density(args.formula, params=params, predict=args.predict, support=args.support)
    else:
        inner = {key: _number(key, value) for key, value in option_pairs(args.inner)}
        result = implied.implied_density(args.loss, support=args.support, inner=inner or None)
    render = {"text": result.to_text, "latex": result.to_latex, "markdown": result.to_markdown}[args.format]
    print(render())
    return 0
