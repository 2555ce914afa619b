"""Break long display formulas across lines, at the structure of the expression.

SymPy prints an expression as one line of LaTeX. Here an expression is cut
into *pieces*: LaTeX strings that must stay on one line, with a permitted
break between consecutive pieces (before a ``+`` or ``-`` of a sum, inside
the bracket of a ``\\sum`` whose summand is a sum). The pieces are then packed
greedily into lines no wider than a budget, measured by ``estimate_width``,
a rough count of the printed width in characters of a display formula.

Brackets that span a break are ``\\bigl( ... \\bigr)``: ``\\left``/``\\right``
cannot cross a line of ``align``.
"""

from __future__ import annotations

import functools
import re

import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp

from symlik.core.functions import ArgMin
from symlik.render.functions_latex import logaddexp_terms

# About the width of a formula that fits an A4 page with 2.5 cm margins at 10pt,
# after the left-hand side; checked by compiling the book (no overfull boxes).
DEFAULT_BUDGET = 70

_ZERO_WIDTH = (
    r"\left", r"\right", r"\mathopen{}", r"\mathclose{}", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr",
    r"\biggl", r"\biggr", r"\displaystyle", r"\limits", r"\!",
)
_COMMAND_WIDTH = {
    r"\quad": 2, r"\qquad": 4, r"\,": 0.3, r"\;": 0.4, r"\ ": 0.5, r"\cdot": 1.2, r"\mid": 1.5,
    r"\sum": 2, r"\prod": 2, r"\int": 1.5, r"\infty": 1.2, r"\to": 1.5, r"\leq": 1.5, r"\geq": 1.5,
}
_OPERATOR = re.compile(r"[+\-=<>]")
_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.")


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group starting at tex[i] == '{' (without braces), and the index after it."""
    depth = 0
    for j in range(i, len(tex)):
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[i + 1 : j], j + 1
    return tex[i + 1 :], len(tex)


def _argument(tex: str, i: int) -> tuple[str, int]:
    """A TeX argument at i: a brace group, a command, or one character."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        return _group(tex, i)
    m = _COMMAND.match(tex, i)
    if m:
        return m.group(0), m.end()
    return tex[i], i + 1


# A pure function of the text, asked again for every candidate line break of the same pieces.
@functools.lru_cache(maxsize=65536)
def estimate_width(tex: str) -> float:
    """Approximate printed width of display-math LaTeX, in characters.

    Fractions count their wider line, scripts count 0.7, operators count
    their spacing, most commands (Greek letters, \\log) their glyphs.
    """
    width = 0.0
    i = 0
    while i < len(tex):
        c = tex[i]
        if c in " \n\t&":
            i += 1
            continue
        if c in "{}":
            i += 1
            continue
        if c in "_^":
            arg, i = _argument(tex, i + 1)
            width += 0.7 * estimate_width(arg)
            continue
        if c == "\\":
            zero = next((z for z in _ZERO_WIDTH if tex.startswith(z, i)), None)
            if zero is not None:
                i += len(zero)
                continue
            m = _COMMAND.match(tex, i)
            cmd = m.group(0)
            i = m.end()
            if cmd == r"\begin":  # cases, aligned: the sum of the columns' widest cells
                env, i = _argument(tex, i)
                end = _matching_end(tex, i, env)
                table = [_top_level_split(row, "&") for row in _top_level_split(tex[i:end], r"\\")]
                columns = max(len(row) for row in table)
                width += sum(max((estimate_width(row[c]) for row in table if c < len(row)), default=0) for c in range(columns))
                width += 1.5 + columns - 1 if env == "cases" else 0  # the brace, the gap between the columns
                i = end + len(r"\end{%s}" % env)
            elif cmd in (r"\frac", r"\dfrac", r"\tfrac"):
                num, i = _argument(tex, i)
                den, i = _argument(tex, i)
                width += max(estimate_width(num), estimate_width(den)) + 0.6
            elif cmd == r"\sqrt":
                arg, i = _argument(tex, i)
                width += estimate_width(arg) + 1.2
            elif cmd in (r"\operatorname", r"\operatorname*", r"\mathrm", r"\text", r"\textbf", r"\mathbf",
                         r"\mathcal", r"\mathbb", r"\textit", r"\mathit"):
                arg, i = _argument(tex, i)
                letters = re.sub(r"\\[A-Za-z]+|[{}\\]", "", arg)
                upper = sum(ch.isupper() for ch in letters)
                width += 1.4 * upper + 0.9 * (len(letters) - upper) + (0.6 if "operatorname" in cmd else 0)
            elif cmd in _COMMAND_WIDTH:
                width += _COMMAND_WIDTH[cmd]
            elif cmd in (r"\log", r"\exp", r"\sin", r"\cos", r"\tanh", r"\cosh", r"\sinh", r"\max", r"\min", r"\arg"):
                width += len(cmd) - 1 + 0.4
            elif len(cmd) == 2:  # \{, \|, \, ...
                width += 0.5
            else:  # a Greek letter or a symbol
                width += 1.0
            continue
        if _OPERATOR.match(c):
            width += 2.0
        elif c in "()[]|":
            width += 0.8
        elif c == ",":
            width += 1.0
        else:
            width += 1.0
        i += 1
    return width


def _top_level_split(tex: str, sep: str) -> list[str]:
    """``tex`` split at ``sep`` (``&`` or ``\\\\``) outside braces and nested environments."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith(r"\begin{", i) or tex[i] == "{":
            depth += 1
        elif tex.startswith(r"\end{", i) or tex[i] == "}":
            depth -= 1
        if depth == 0 and tex.startswith(sep, i) and not (sep == "&" and tex[i - 1 : i] == "\\"):
            parts.append(tex[start:i])
            i += len(sep)
            start = i
            continue
        i += 2 if tex[i] == "\\" and not tex.startswith(sep, i) and tex[i + 1 : i + 2] in "{}&\\" else 1
    parts.append(tex[start:])
    return parts


def _matching_end(tex: str, i: int, env: str) -> int:
    """The index of the ``\\end{env}`` closing the environment whose body starts at i."""
    depth = 1
    for m in re.finditer(r"\\(begin|end)\{%s\}" % re.escape(env), tex[i:]):
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return i + m.start()
    return len(tex)


# ---------------------------------------------------------------------------
# Pieces: LaTeX strings with a permitted break between consecutive ones.
# ---------------------------------------------------------------------------


def _sum_prefix(print_, s: sp.Sum) -> str:
    parts = []
    for var, lo, hi in s.limits:
        parts.append(r"\sum_{%s=%s}^{%s}" % (print_(var), print_(lo), print_(hi)))
    return " ".join(parts)


def _signed_terms(expr: sp.Add):
    """(sign, term) in printing order, with the sign pulled out of each term."""
    from sympy.core.function import _coeff_isneg

    out = []
    for t in expr.args:  # the order the LaTeX printer uses with order="none"
        if _coeff_isneg(t):
            out.append(("-", -t))
        else:
            out.append(("+", t))
    return out


def _attach(prefix: str, pieces: list[str], suffix: str = "") -> list[str]:
    pieces = list(pieces)
    pieces[0] = f"{prefix}{pieces[0]}"
    pieces[-1] = f"{pieces[-1]}{suffix}"
    return pieces


def pieces(expr, print_, budget: float = DEFAULT_BUDGET) -> list[str]:
    """Cut ``expr`` into unbreakable LaTeX pieces; a whole expression that fits is one piece."""
    whole = print_(expr)
    if estimate_width(whole) <= budget:
        return [whole]
    return _split(expr, print_, budget, whole)


def _split(expr, print_, budget, whole) -> list[str]:
    if isinstance(expr, sp.Add):
        out: list[str] = []
        for n, (sign, term) in enumerate(_signed_terms(expr)):
            sub = _term_pieces(term, print_, budget)
            if n == 0:
                out += _attach("- " if sign == "-" else "", sub)
            else:
                out += _attach(f"{sign} ", sub)
        return out
    if isinstance(expr, sp.Sum) and isinstance(expr.function, sp.Add):
        return _wrapped(_sum_prefix(print_, expr) + r" \biggl(", expr.function, r"\biggr)", print_, budget)
    if isinstance(expr, ArgMin):
        body, *over = expr.args
        head = r"\operatorname*{arg\,min}_{%s} \biggl(" % ", ".join(print_(o) for o in over)
        return _wrapped(head, body, r"\biggr)", print_, budget)
    if isinstance(expr, sp.Piecewise):
        return [_broken_cases(expr, print_, budget)]
    if isinstance(expr, sp.Sum) and isinstance(expr.function, sp.Piecewise):
        head = _sum_prefix(print_, expr) + " "
        return [head + _broken_cases(expr.function, print_, budget - estimate_width(head))]
    cases = [f for f in _factors(expr) if isinstance(f, sp.Piecewise)] if isinstance(expr, sp.Mul) else []
    if len(cases) == 1:
        # c * (cases) / N (a gradient of a piecewise loss): the factor in front, the cases broken within
        other = sp.Mul(*[f for f in _factors(expr) if f is not cases[0]])
        if other == 1 or other == -1:
            head = "" if other == 1 else "- "
        else:
            head = ("- " + print_(-other) if other.could_extract_minus_sign() else print_(other)) + " "
        return [head + _broken_cases(cases[0], print_, budget - estimate_width(head))]
    if isinstance(expr, sp.Mul):
        coeff, rest = expr.as_independent(sp.Sum, as_Add=False)
        if coeff == -1 and rest != expr:
            return _attach("- ", _split_or_whole(rest, print_, budget))
        if isinstance(rest, sp.Sum) and coeff != 1:
            return _attach(print_(coeff) + " ", _split_or_whole(rest, print_, budget))
        factors = [f for f in expr.args if isinstance(f, sp.Add)]
        # a fraction (a gradient in textbook form) stays whole: dividing out its sum would evaluate it
        if len(factors) == 1 and sp.fraction(expr, exact=True)[1] == 1:
            other = expr / factors[0]
            head = "- " if other == -1 else ("" if other == 1 else print_(other) + " ")
            return _wrapped(head + r"\biggl(", factors[0], r"\biggr)", print_, budget)
        # a textbook fraction N / d (a gradient over n) too wide for a line: 1/d in front, N broken
        if len(expr.args) == 2 and isinstance(expr.args[1], sp.Pow) and expr.args[1].exp == -1 \
                and isinstance(expr.args[0], (sp.Mul, sp.Add)):
            head = r"\frac{1}{%s} \biggl(" % print_(expr.args[1].base)
            return _wrapped(head, expr.args[0], r"\biggr)", print_, budget)
        # c (a + b + ...)^n and c e^(a + b + ...) too wide for a line (the multivariate normal's
        # squared whitened residuals, its density): c in front, the sum broken inside big brackets
        opened = [f for f in expr.args if _opens(f)]
        if len(opened) == 1:
            f = opened[0]
            other = sp.Mul(*(a for a in expr.args if a is not f))  # (expr / f would keep e^-A e^A)
            head = "- " if other == -1 else ("" if other == 1 else print_(other) + " ")
            if isinstance(f, sp.exp):
                return _wrapped(head + r"\exp\biggl(", f.args[0], r"\biggr)", print_, budget)
            return _wrapped(head + r"\biggl(", f.base, r"\biggr)^{%s}" % print_(f.exp), print_, budget)
    if isinstance(expr, logaddexp):  # log(e^a + e^b + ...): broken between the exponentials
        terms = [r"e^{%s}" % print_(t) for t in logaddexp_terms(expr)]
        return _attach(r"\log\biggl(", [terms[0]] + ["+ " + t for t in terms[1:]], r"\biggr)")
    if isinstance(expr, sp.log) and isinstance(expr.args[0], (sp.Mul, sp.Add)):
        return _wrapped(r"\log\biggl(", expr.args[0], r"\biggr)", print_, budget)
    if isinstance(expr, sp.Sum) and isinstance(expr.function, (sp.log, sp.Mul)):
        head = _sum_prefix(print_, expr) + " "
        inner = pieces(expr.function, print_, budget - estimate_width(head))
        if len(inner) > 1:
            return _attach(head, inner)
    return [whole]


def _opens(f) -> bool:
    """A factor whose sum can be broken inside big brackets: (a + b)^n (n a positive integer), e^(a + b)."""
    if isinstance(f, sp.exp):
        return isinstance(f.args[0], sp.Add)
    return isinstance(f, sp.Pow) and isinstance(f.base, sp.Add) and f.exp.is_Integer and f.exp > 1


def _factors(expr) -> list:
    """The factors of a product, unevaluated products inside it opened."""
    if isinstance(expr, sp.Mul):
        return [f for a in expr.args for f in _factors(a)]
    return [expr]


def _broken_cases(pw: sp.Piecewise, print_, budget) -> str:
    """A piecewise expression as cases whose too-wide values run over several lines (an aligned
    block inside the case), so the whole stays within ``budget``: a cases block cannot be cut
    between the lines of the surrounding align."""
    rows = []
    for value, cond in pw.args:
        cond_tex = r"\text{otherwise}" if cond == sp.true else r"\text{for}\: " + print_(cond)
        room = max(budget - estimate_width(cond_tex) - 3, 20)
        lines = pack(pieces(value, print_, room), room)
        body = lines[0] if len(lines) == 1 else r"\begin{aligned}[t]&" + r" \\ &\quad ".join(lines) + r"\end{aligned}"
        rows.append(f"{body} & {cond_tex}")
    return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"


def _wrapped(head: str, inner, tail: str, print_, budget) -> list[str]:
    """head + pieces of inner + tail, the inner pieces cut to leave room for head and tail."""
    room = budget - estimate_width(head) - estimate_width(tail) - 1.5  # 1.5: the big brackets
    return _attach(head, pieces(inner, print_, room), tail)


def _split_or_whole(expr, print_, budget):
    whole = print_(expr)
    return _split(expr, print_, budget, whole) if estimate_width(whole) > budget else [whole]


def _term_pieces(term, print_, budget) -> list[str]:
    """A term of a sum: parenthesised if it is itself a sum (an unevaluated Add)."""
    if isinstance(term, sp.Add):
        inner = pieces(term, print_, budget)
        return _attach(r"\biggl(", inner, r"\biggr)") if len(inner) > 1 else [r"\left(%s\right)" % inner[0]]
    return pieces(term, print_, budget)


def pack(parts: list[str], budget: float = DEFAULT_BUDGET, first: float = 0.0, indent: float = 2.0) -> list[str]:
    """Greedily pack pieces into lines: the first line starts ``first`` wide, the others ``indent``."""
    lines: list[list[str]] = [[]]
    used = first
    for part in parts:
        w = estimate_width(part)
        if lines[-1] and used + w > budget:
            lines.append([])
            used = indent
        lines[-1].append(part)
        used += w
    return [" ".join(line) for line in lines]


def broken(expr, print_, budget: float = DEFAULT_BUDGET, first: float = 0.0) -> list[str]:
    """The lines of ``expr``, each within ``budget`` where the structure allows."""
    parts = pieces(expr, print_, budget - 2)
    if first + estimate_width(parts[0]) > budget:  # the first piece must fit beside the left-hand side
        parts = pieces(expr, print_, budget - first)
    return pack(parts, budget, first=first)


def split_top_level(tex: str) -> list[str]:
    """Cut a LaTeX string before each + or - that is outside every group and bracket.

    For LaTeX that did not come from a SymPy expression (latexify's output):
    the cut points are the terms of the outermost sum.
    """
    parts, start, depth, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex.startswith(r"\left.", i):
            depth += 1
            i += 5
            continue
        if tex.startswith(r"\right", i):
            depth -= 1
            i += 6
            continue
        c = tex[i]
        if c == "\\":  # skip a command name (so \mathopen is not read as letters)
            m = _COMMAND.match(tex, i)
            i = m.end() if m else i + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c in "+-" and depth == 0 and i > start and tex[start:i].strip():
            before = tex[:i].rstrip()
            if before and before[-1] not in "=(,{^_":  # a binary sign, not a unary minus
                parts.append(tex[start:i].strip())
                start = i
        i += 1
    parts.append(tex[start:].strip())
    return [p for p in parts if p]
