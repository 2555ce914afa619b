"""A step's reason: prose with inline math between dollar signs.

Reasons are written once, as ``"Softplus: $\\log(1 + e^{z})$ never overflows."``.
LaTeX and Markdown keep the math as math (the LaTeX renderer escapes only the
prose around it); the text renderer writes the math as plain text, for the
small set of LaTeX that symlik's own reasons use (``tests/test_render.py``
renders every reason of the catalog and requires that no markup is left).
A reason built from an expression typesets it with ``inline(expr)``: SymPy's
LaTeX, made fit for a line of prose.
"""

from __future__ import annotations

import re

from symlik.render.printing import _group, _wrapped, inline_latex

_MATH = re.compile(r"\$([^$]+)\$")

# Commands -> text. Function names keep a trailing space (``\log x`` -> ``log x``).
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "theta": "θ",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ",
    "psi": "ψ", "rho": "ρ", "chi": "χ", "omega": "ω", "eta": "η", "zeta": "ζ", "xi": "ξ", "Gamma": "Γ", "ell": "ℓ", "infty": "∞", "sum": "Σ", "prod": "Π", "int": "∫", "partial": "∂",
    "cdot": "·", "times": "×", "to": "→", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠",
    "approx": "≈", "mid": "|", "in": "∈", "pm": "±", "ldots": "...", "dots": "...", "sim": "~", "|": "||", "odot": "⊙",
}
_FUNCTIONS = ("log", "exp", "sin", "cos", "tan", "tanh", "cosh", "max", "min", "arg")
_DROPPED = ("allowbreak", "left", "right", "middle", "big", "Big", "bigl", "bigr", ",", ":", ";", " ", "!", "quad", "displaystyle")
_WRAPPERS = ("operatorname", "mathrm", "text", "mathbf", "boldsymbol", "mathcal", "mathbb", "substack")


# One token: a number, a name (with a subscript), or a bracketed group, with an optional power.
_TOKEN = re.compile(r"(?:\d+(?:\.\d+)?|[^\W\d_][^\W_]*[\u0302\u0303]?(?:_\w+)?|∞)(?:\^\w+)?")


def _atomic(text: str) -> bool:
    """Can ``text`` stand next to / or ^ without brackets? (2σ^2 cannot: it is a product.)"""
    return bool(_TOKEN.fullmatch(text)) or _wrapped(text)


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
                arg = math_to_text(arg)
                out.append(f"√{arg}" if _TOKEN.fullmatch(arg) else f"√({arg})")
            elif name in ("hat", "tilde"):  # a combining accent: x̂, z̃
                arg, i = _group(src, i)
                out.append(math_to_text(arg) + {"hat": "\u0302", "tilde": "\u0303"}[name])
            elif name in _WRAPPERS:
                arg, i = _group(src, i)
                out.append(math_to_text(arg))
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
                if name == "partial":  # ∂p, as it is written
                    i = len(src) - len(src[i:].lstrip(" "))
            elif name in _FUNCTIONS:
                out.append(name + (" " if i < len(src) and src[i] not in "(_^" else ""))
            elif name in _DROPPED:
                out.append(" " if name in (",", ":", ";", " ", "quad") else "")
            elif name in "{}_%&#$":
                out.append(name)
            elif name == "\\":  # a line break, as in \substack{1 \le i \le n \\ 1 \le k \le C}
                out.append(", ")
            else:
                raise ValueError(f"no plain-text form for \\{name} in inline math {src!r}")
            while i < len(src) and src[i] == " " and out and out[-1].endswith(" "):
                i += 1
        elif c in "^_":
            arg, i = _group(src, i + 1)
            arg = math_to_text(arg)
            # a nested index is bracketed: α_(y_i), not α_y_i
            simple = len(arg) == 1 or re.fullmatch(r"[^\W_]+", arg) or _wrapped(arg)
            out.append(c + (arg if simple else f"({arg})"))
        elif c in "{}":
            i += 1
        else:
            out.append(c)
            i += 1
    return _tidy("".join(out))


_APPLIED = re.compile(r"\b(%s) +\(" % "|".join(_FUNCTIONS))
_UNARY_MINUS = re.compile(r"(^|[(\[,=^_<>≤≥] *)- +(?=\S)")


def _tidy(text: str) -> str:
    """Spacing as a reader writes it: log(σ), not log (σ ); -y, not - y."""
    text = re.sub(r" {2,}", " ", text).strip()
    text = _APPLIED.sub(r"\1(", text)
    text = re.sub(r"\( +", "(", re.sub(r" +\)", ")", text))
    return _UNARY_MINUS.sub(r"\1-", text)


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


def _fragments(why, names_of):
    """(is_math, piece) pairs of a reason: a tuple of prose and ``Math`` (its math typeset by
    ``inline_latex`` with ``names_of(expr)``), or a legacy string with ``$...$`` math."""
    if isinstance(why, str):
        yield from _split(why)
        return
    for part in why:
        if isinstance(part, str):
            yield False, part
        else:
            yield True, inline_latex(part.expr, names_of(part.expr) if names_of else None)


def prose_latex(why, escape, names_of=None) -> str:
    """LaTeX: ``escape`` the prose, keep the math as ``$...$``."""
    return "".join(f"${_breakable(piece)}$" if is_math else escape(piece) for is_math, piece in _fragments(why, names_of))


def _breakable(math: str) -> str:
    """TeX breaks inline math only after a relation or an operator; a long list of parameters
    (p(y | w_1, ..., sigma_4) of a 4-component mixture) may also break after a comma."""
    return re.sub(r"(?<!\\), ", r",\\allowbreak ", math) if len(math) > 80 else math  # not a thin space "\, "


def prose_text(why, names_of=None) -> str:
    """Plain text: the math written out (``$\\sigma^2$`` -> ``σ^2``)."""
    return "".join(math_to_text(piece) if is_math else piece for is_math, piece in _fragments(why, names_of))


def prose_markdown(why, names_of=None) -> str:
    """Markdown (GitHub, KaTeX on the site): inline math between dollar signs."""
    return "".join(f"${piece}$" if is_math else piece for is_math, piece in _fragments(why, names_of))


def inline(expr, names: dict | None = None) -> str:
    """A SymPy expression as inline math for a reason: ``$...$`` around ``inline_latex``."""
    return "$%s$" % inline_latex(expr, names)
