"""A step's reason: prose with inline math between dollar signs.

Reasons are written once, as ``"Softplus: $\\log(1 + e^{z})$ never overflows."``.
LaTeX and Markdown keep the math as math (the LaTeX renderer escapes only the
prose around it); the text renderer writes the math as plain text, for the
small set of LaTeX that symlik's own reasons use (``tests/test_render.py``
renders every reason of the catalog and requires that no markup is left).
"""

from __future__ import annotations

import re

_MATH = re.compile(r"\$([^$]+)\$")

# Commands -> text. Function names keep a trailing space (``\log x`` -> ``log x``).
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "theta": "θ",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ",
    "psi": "ψ", "rho": "ρ", "chi": "χ", "omega": "ω", "eta": "η", "zeta": "ζ", "xi": "ξ", "Gamma": "Γ", "ell": "ℓ", "infty": "∞", "sum": "Σ", "prod": "Π", "partial": "∂",
    "cdot": "·", "times": "×", "to": "→", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠",
    "approx": "≈", "mid": "|", "in": "∈", "pm": "±", "ldots": "...", "dots": "...",
}
_FUNCTIONS = ("log", "exp", "sin", "cos", "tanh", "cosh", "max", "min", "arg")
_DROPPED = ("left", "right", "big", "Big", "bigl", "bigr", ",", ";", "!", "quad", "displaystyle")
_WRAPPERS = ("operatorname", "mathrm", "text", "mathbf", "boldsymbol", "mathcal", "mathbb")


def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group opening at ``text[start]`` (``{...}``, nested), or one character."""
    if start >= len(text):
        return "", start
    if text[start] != "{":
        return text[start], start + 1
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i], i + 1
    raise ValueError(f"unbalanced braces in inline math: {text!r}")


def _atomic(text: str) -> bool:
    return len(text) == 1 or text.isalnum() or bool(re.fullmatch(r"[\w.]+", text))


def math_to_text(src: str) -> str:
    """Inline LaTeX math -> plain text: ``\\frac{1}{2\\sigma^2}`` -> ``1/(2σ^2)``."""
    out, i = [], 0
    while i < len(src):
        c = src[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", src[i:])
            name = m.group(1)
            i += m.end()
            if name == "frac":
                num, i = _group(src, i)
                den, i = _group(src, i)
                num, den = math_to_text(num), math_to_text(den)
                out.append(f"{num if _atomic(num) else f'({num})'}/{den if _atomic(den) else f'({den})'}")
            elif name == "sqrt":
                arg, i = _group(src, i)
                out.append(f"√({math_to_text(arg)})")
            elif name == "hat":
                arg, i = _group(src, i)
                out.append(math_to_text(arg) + "\u0302")
            elif name in _WRAPPERS:
                arg, i = _group(src, i)
                out.append(math_to_text(arg))
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name in _FUNCTIONS:
                out.append(name + (" " if i < len(src) and src[i] not in "(_^" else ""))
            elif name in _DROPPED:
                out.append(" " if name in (",", ";", "quad") else "")
            elif name in "{}_%&#$":
                out.append(name)
            else:
                raise ValueError(f"no plain-text form for \\{name} in inline math {src!r}")
            while i < len(src) and src[i] == " " and out and out[-1].endswith(" "):
                i += 1
        elif c in "^_":
            arg, i = _group(src, i + 1)
            arg = math_to_text(arg)
            out.append(c + (arg if _atomic(arg) else f"({arg})"))
        elif c in "{}":
            i += 1
        else:
            out.append(c)
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _split(text: str):
    """(is_math, piece) pairs; an unpaired dollar sign is an error in the reason itself."""
    if text.count("$") % 2:
        raise ValueError(f"unpaired $ in {text!r}")
    pos = 0
    for m in _MATH.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, m.group(1)
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


def prose_latex(text: str, escape) -> str:
    """LaTeX: ``escape`` the prose, keep the math as ``$...$``."""
    return "".join(f"${piece}$" if is_math else escape(piece) for is_math, piece in _split(text))


def prose_text(text: str) -> str:
    """Plain text: the math written out (``$\\sigma^2$`` -> ``σ^2``)."""
    return "".join(math_to_text(piece) if is_math else piece for is_math, piece in _split(text))


def prose_markdown(text: str) -> str:
    """Markdown (GitHub, KaTeX on the site): ``$...$`` is inline math already."""
    list(_split(text))  # the same check of the dollar signs as the other renderers
    return text
