"""One derivation, rendered: what `symlik derive NAME|--density ...` prints.

``render_request`` takes the request symlik.apps.commands.derive builds (plain data, so
the output cache can key it) and returns the text.
"""

from __future__ import annotations

from symlik.derivation import derive
from symlik.model.custom import custom, support_from_text


def custom_spec(density: dict, predict):
    """A Distribution from --density / --log-density text and --param NAME:CONSTRAINT pairs."""
    params = dict(density["params"])
    support = support_from_text(density["support"], params) if density["support"] else None
    return custom(
        "custom", density=density["density"], log_density=density["log_density"], observed=density["observed"],
        params=params, support=support, predict=predict, normalize=density["normalize"],
    )


def render_request(request: dict) -> str:
    spec = custom_spec(request["density"], request["predict"]) if request["density"] else request["name"]
    d = derive(spec, predict=request["predict"], link=request["link"], options=dict(request["options"]) or None)
    if request["explain"]:
        d = d.explained()
    return {"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown}[request["format"]]()
