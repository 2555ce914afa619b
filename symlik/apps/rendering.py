"""One derivation, rendered: what `symlik derive NAME|--density ...` prints.

``render_request`` takes the request symlik.apps.commands.derive builds (plain data, so
the output cache can key it) and returns the text.
"""

from __future__ import annotations

from symlik.core.errors import SymlikError
from symlik.derivation import derive
from symlik.model.custom import custom, support_from_text


# What custom()'s messages call its keyword arguments, and the flag a CLI user types instead.
CLI_WORDS = (
    ("pass normalize=True", "pass --normalize"),
    ("normalize=True", "--normalize"),
    ("support=... (e.g. 'positive', 'nonnegative_integer' or Interval(0, oo))",
     "--support (e.g. positive, nonnegative_integer or '[0, inf)')"),
    ("check=True", "the check"),
)


def in_cli_words(message: str) -> str:
    """A message of the Python API, with keyword arguments named as the CLI's flags."""
    for api, flag in CLI_WORDS:
        message = message.replace(api, flag)
    return message


def custom_spec(density: dict, predict):
    """A Distribution from --density / --log-density text and --param NAME:CONSTRAINT pairs."""
    params = dict(density["params"])
    support = support_from_text(density["support"], params) if density["support"] else None
    try:
        return custom(
            "custom", density=density["density"], log_density=density["log_density"], observed=density["observed"],
            params=params, support=support, predict=predict, normalize=density["normalize"],
        )
    except SymlikError as exc:
        message = in_cli_words(str(exc))
        if message == str(exc):
            raise
        raise SymlikError(message) from None


def render_request(request: dict) -> str:
    spec = custom_spec(request["density"], request["predict"]) if request["density"] else request["name"]
    d = derive(spec, predict=request["predict"], link=request["link"], options=dict(request["options"]) or None)
    if request["explain"]:
        d = d.explained()
    return {"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown}[request["format"]]()
