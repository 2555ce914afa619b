"""Enumerate the derivations `symlik derive --all` covers: every catalog entry,
each accepted link, and each variant the distribution declares."""

from __future__ import annotations

from pathlib import Path

import sympy as sp

from symlik.apps.tables import text_table
from symlik.derivation import derive
from symlik.model.distributions import get, names as all_names


def combinations(names=None):
    """Yield (name, predict, link, options) for every derivation in the catalog."""
    for name in names or all_names():
        spec = get(name)
        yield name, None, None, {}
        for link in spec.links:
            yield name, None, link, {}
        for variant in spec.variants:
            yield name, variant.get("predict"), variant.get("link"), variant.get("options", {})


def catalog_listing(request=None) -> str:
    """`symlik list`: name, parameters, support, what is predicted and the links, a row each."""
    rows = [("name", "parameters", "support", "predicts", "links")]
    for name in all_names():
        spec = get(name)
        params = ", ".join(f"{p.name} ({p.constraint})" for p in spec.params)
        rows.append((name, params, spec.support.describe(), ", ".join(spec.predict), ", ".join(spec.links) or "-"))
    return text_table(rows)


def all_derivations(names=None):
    for name, predict, link, options in combinations(names):
        yield derive(name, predict=predict, link=link, options=options or None)


def loss_table_markdown() -> str:
    """The distribution -> loss table (README, docs), generated from the registry."""
    rows = ["| distribution | predict | link | identified loss | scale |", "|---|---|---|---|---|"]
    for d in all_derivations():
        loss = f"`{d.loss.name}`" if d.loss.name else "its own NLL"
        if d.loss.inner:  # the inner parameters the matcher solved for
            loss += " (" + ", ".join(f"{k} = {sp.sstr(v)}" for k, v in d.loss.inner.items()).replace("*", r"\*") + ")"
        scale = sp.sstr(d.scale).replace("*", r"\*").replace("|", r"\|")
        rows.append(f"| `{d.spec.label}` | {', '.join(d.predict)} | {d.link or '-'} | {loss} | {scale} |")
    return "\n".join(rows) + "\n"


START, END = "<!-- loss-table:start -->", "<!-- loss-table:end -->"


def update_readme(path="README.md") -> bool:
    """Rewrite the table between the markers; True if the file changed."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{loss_table_markdown()}{END}{tail}"
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m symlik.apps.catalog: refresh README's table
    print("README.md updated" if update_readme() else "README.md already current")
