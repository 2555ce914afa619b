"""Pages of the documentation site, generated from the registry (Markdown for MkDocs).

One page per distribution: its density and parameters, then every derivation
of it (the steps, the proven identity, the gradient, what else the derivation
offers), its figure, and the generated kernel both as code and typeset by
latexify beside the derived formula. The MkDocs hook (tools/mkdocs_hooks.py)
adds these pages to the build, so a distribution added as one file gets its
page with no edit to the docs.

Math is written for pymdownx.arithmatex: ``$...$`` inline and ``$$...$$``
on lines of their own.
"""

from __future__ import annotations

import re

import sympy as sp

from symlik.compiler import compile as compile_kernel
from symlik.derivation.gradient import loss_gradient
from symlik.render.breaking import broken, estimate_width, pack, split_top_level
from symlik.render.common import display_names, latex
from symlik.render.kernel_math import kernel_latex
from symlik.render.latex import aligned_lines
from symlik.render.markdown import display
from symlik.render.prose import prose_markdown

FIGURES = "figures"


def expr_display(d, lhs: str, expr) -> str:
    first = estimate_width(lhs) + 2
    return display(aligned_lines(lhs, broken(expr, lambda e: latex(d, e), first=first)))


# Headings are plain text (they also appear in the table of contents, where no math renders).
GREEK = {"mu": "μ", "sigma": "σ", "nu": "ν", "tau": "τ", "kappa": "κ", "lam": "λ", "rate": "λ", "lambda": "λ",
         "alpha": "α", "beta": "β", "gamma": "γ", "theta": "θ", "phi": "φ", "rho": "ρ", "eta": "η", "psi": "ψ"}


def heading_title(d) -> str:
    predict = ", ".join(GREEK.get(p, p) for p in d.predict)
    parts = [f"Predict {predict}"]
    if d.link:
        parts.append(f"with the {d.link} link")
    options = {k: v for k, v in d.spec.chosen.items() if v != d.spec.options[k][0]}
    if options:
        parts.append("(" + ", ".join(f"`{k}={v}`" for k, v in options.items()) + ")")
    return " ".join(parts)


def anchor(d) -> str:
    return d.slug


def _derivation_steps(d) -> list[str]:
    """The derivation's own Markdown, its headings moved down two levels (H1 -> H3)."""
    md = d.to_markdown()
    lines = md.splitlines()
    body = []
    for line in lines[1:]:  # drop its title: the section heading says it
        if line.startswith("#"):
            line = "##" + line
        body.append(line)
    return ["\n".join(body)]


def _gradient(d) -> list[str]:
    if any("gradient" in s.title.lower() for s in d.steps):
        return []
    try:
        grads = loss_gradient(d)
    except Exception:  # noqa: BLE001 - a gradient SymPy cannot take is left out
        return []
    out = ["### Gradient", "", "With respect to what the network outputs"
           + (" (component $k$ of the vector)." if d.event else "."), ""]
    for name, g in grads.items():
        lhs = r"\frac{\partial \ell}{\partial %s}" % latex(d, d.symbols[name])
        out += [expr_display(d, lhs, g), ""]
    return out


def _offered(d) -> list[str]:
    out = []
    for method, title, lhs in (("fisher", "Fisher information", r"\mathcal{I}"),
                               ("optimal_constant", "Best constant prediction", r"\hat{\theta}")):
        fn = getattr(d, method, None)
        if not callable(fn) or any(title.lower() in s.title.lower() for s in d.steps):
            continue
        out += [f"### {title}", ""]
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - "not available" is an answer, shown as such
            out += [f"*Not available in closed form: {exc}*", ""]
            continue
        items = list(value.items()) if isinstance(value, dict) else [(None, value)]
        for key, v in items:
            v = getattr(v, "expr", v)
            left = lhs if key is None else r"%s_{%s}" % (lhs, latex(d, sp.Symbol(str(key))))
            if isinstance(v, sp.Basic):
                out += [expr_display(d, left, v) if not isinstance(v, sp.MatrixBase) else display([f"{left} = {latex(d, v)}"]), ""]
            else:  # an OptimalConstant: its statement, math typeset
                out += [prose_markdown(v.reason, lambda e: display_names(d, e)) if getattr(v, "reason", "") else f"{v}", ""]
    return out


def _kernel(d) -> list[str]:
    kernel = compile_kernel(d)
    out = ["### The generated kernel", "",
           f"`symlik.compile(...)` generates this NumPy code for the loss (inputs: `{', '.join(kernel.inputs)}`):", "",
           "```python", kernel.source.rstrip(), "```", ""]
    try:
        shown = kernel_latex(kernel)
    except Exception:  # noqa: BLE001 - latexify could not read it; the code above still stands
        return out
    half = 34  # each formula sits in half the content width
    derived = display(aligned_lines(r"\ell", broken(d.loss.expr, lambda e: latex(d, e), half, first=3)))
    code = "\n\n".join(
        ("For class-index targets:\n\n" if name == "index" else "") + _code_display(tex, half)
        for name, tex in shown.items()
    )
    out += [
        "The code, typeset by latexify-py, beside the derived formula: the compiled code is the math.", "",
        '<div class="grid" markdown>', "",
        '<div markdown>', "", "**Derived**", "", derived, "", "</div>", "",
        '<div markdown>', "", "**Kernel (latexify)**", "", code, "", "</div>", "",
        "</div>", "",
    ]
    return out


def _code_display(tex: str, budget: float) -> str:
    """latexify's one-line LaTeX, cut at its outer + and - to fit ``budget``."""
    lhs, _, rhs = tex.partition(" = ")
    return display(aligned_lines(lhs, pack(split_top_level(rhs), budget, first=estimate_width(lhs) + 2)))


def _doc_text(text: str) -> str:
    return text  # docstrings already use ``code``, which Markdown shows as code


def distribution_page(name: str, derivations) -> str:
    """The Markdown page of one distribution."""
    spec = derivations[0].spec
    d0 = derivations[0]
    theta = ", ".join(latex(d0, spec.symbol(p)) for p in spec.param_names)
    out = [f"# {spec.title}", "", _doc_text(spec.summary()), ""]
    out += [expr_display(d0, r"p(%s \mid %s)" % (latex(d0, spec.y), theta), spec.density_expr()), ""]
    out += [f"Support of $y$: `{spec.support.describe()}`.", ""]
    out += ["| parameter | constraint | meaning |", "|---|---|---|"]
    out += [f"| ${spec.latex_name(p.name)}$ (`{p.name}`) | {p.constraint.label} | {p.doc} |"
            for p in spec.effective_params()]
    out.append("")
    out += ["| derivation | loss | scale |", "|---|---|---|"]
    for d in derivations:
        loss = f"`{d.loss.name}`" if d.loss.name else "its own NLL"
        out.append(f"| [{heading_title(d)}](#{anchor(d)}) | {loss} | $\\displaystyle {latex(d, d.scale)}$ |")
    out.append("")
    if spec.references:
        out += ["**References**", ""] + [f"- {r}" for r in spec.references] + [""]
    for d in derivations:
        out += [f"## {heading_title(d)} {{ #{anchor(d)} }}", ""]
        cli = f"symlik derive {spec.name}" + (f" --predict {' '.join(d.predict)}" if d.predict != spec.predict else "")
        cli += f" --link {d.link}" if d.link else ""
        cli += "".join(f" --option {k}={v}" for k, v in d.spec.chosen.items() if v != d.spec.options[k][0])
        out += [f"```bash\n{cli}\n```", ""]
        out += [f"![{spec.title}: loss and gradient]({'../' + FIGURES}/{d.slug}.svg)", ""]
        out += _derivation_steps(d) + [""]
        out += _gradient(d)
        out += _offered(d)
        out += _kernel(d)
    return "\n".join(out) + "\n"


def distributions_index(groups) -> str:
    out = ["# Distributions", "",
           "Every distribution in the catalog, each derived for the parameters a network predicts "
           "(and each link and variant it declares). Generated from the registry.", "",
           "| distribution | derivations | losses |", "|---|---|---|"]
    for name, ds in groups.items():
        losses = ", ".join(sorted({f"`{d.loss.name}`" if d.loss.name else "its own NLL" for d in ds}))
        out.append(f"| [{ds[0].spec.title}]({name}.md) | {len(ds)} | {losses} |")
    return "\n".join(out) + "\n"


def loss_table(derivations) -> str:
    """The home page's distribution -> loss table, linking each row to its derivation."""
    rows = ["| distribution | predict | link | identified loss | scale |", "|---|---|---|---|---|"]
    for d in derivations:
        loss = f"`{d.loss.name}`" if d.loss.name else "its own NLL"
        predict = ", ".join(f"${d.spec.latex_name(p)}$" for p in d.predict)
        link = f"[`{d.spec.label}`](distributions/{d.spec.name}.md#{anchor(d)})"
        rows.append(f"| {link} | {predict} | {d.link or '-'} | {loss} | $\\displaystyle {latex(d, d.scale)}$ |")
    return "\n".join(rows) + "\n"


def readme_section(readme: str, heading: str) -> str:
    """The body of README's ``## heading`` section (up to the next ## heading)."""
    m = re.search(r"^## %s\s*$(.*?)(?=^## |\Z)" % re.escape(heading), readme, flags=re.M | re.S)
    if not m:
        raise ValueError(f"README has no '## {heading}' section")
    return m.group(1).strip() + "\n"
