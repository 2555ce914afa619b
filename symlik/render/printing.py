"""SymPy expressions -> LaTeX and plain text, with the display names of symlik.core.notation.

Every renderer prints through these printers, so a symbol or a named quantity
(``term``, ``form``, ``OperatorName``) is shown the same way everywhere: the
notation table decides, and ``names`` (symbol -> LaTeX) overrides it where a
derivation shows one of its inputs differently (a link's input as z).

``latex`` is display math; ``inline_latex`` is math for a line of prose (a
reason): no sized delimiters and a Piecewise on one line, so that TeX can
break it; ``text`` is plain text.
"""

from __future__ import annotations

import functools
import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.pretty.pretty_symbology import greek_unicode
from sympy.printing.str import StrPrinter

from symlik.core.functions import LogSumExp
from symlik.core.notation import FORMS, SEPARATORS, TERMS, symbol_display
from symlik.render.functions_latex import FunctionsLatex


def _filled(template: str, printed: list[str], key: str, text: bool) -> str:
    """A notation template with its arguments: {0}, {1}, ..., {args}, {tail}."""
    separator = SEPARATORS.get(key, (", ", ", "))[1 if text else 0]
    tail_separator = "," if text else ", "
    return template.format(*printed, args=separator.join(printed), tail=tail_separator.join(printed[1:]))


def _braced_before_subscript(template: str, printed: list[str]) -> list[str]:
    """An argument that has a subscript already (w_{1}) and takes another in the template ({0}_{i})
    is braced, {w_{1}}_{i}, as SymPy prints an indexed w1: w_{1}_{i} is TeX's double subscript error."""
    return ["{%s}" % p if "_" in p and "{%d}_" % j in template else p for j, p in enumerate(printed)]


def _positive_first(terms) -> list:
    """A sum's terms as a textbook writes them: those without a leading minus first, in their
    own order, so y - mu rather than -mu + y, and 1 - p rather than -p + 1."""
    return sorted(terms, key=lambda t: t.could_extract_minus_sign())


def _log_sum_exp_last(factors) -> list:
    """A product's factors with log sum_j e^(z_j) last: printed first, the sum that follows
    it (sum_k y_k) would read as part of its argument, the log of a product."""
    return sorted(factors, key=lambda f: isinstance(f, LogSumExp))


def textbook_order(expr):
    """``expr`` rebuilt unevaluated in the order a textbook writes it (see _positive_first and
    _log_sum_exp_last); printed with ``order="none"``, which keeps the order of the arguments.
    Exactly equal to ``expr``: only the order of the terms and factors changes."""
    if not isinstance(expr, sp.Basic) or expr.is_Atom or not expr.args:
        return expr
    args = [textbook_order(a) for a in expr.args]
    if isinstance(expr, sp.Add):
        return sp.Add(*_positive_first(args), evaluate=False)
    if isinstance(expr, sp.Mul):
        return sp.Mul(*_log_sum_exp_last(args), evaluate=False)
    if isinstance(expr, sp.Pow):  # unevaluated: SymPy's cache would hand back an equal power in another order
        return sp.Pow(*args, evaluate=False)
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    if isinstance(expr, sp.Function):
        try:
            # unevaluated: evaluating would put the arguments back in canonical order, or not, as
            # SymPy's cache decides (besseli(D/2 - 2, x) printed either way within one process)
            return expr.func(*args, evaluate=False)
        except TypeError:  # a function without ``evaluate`` (symlik's logaddexp)
            pass
    try:
        return expr.func(*args)
    except (TypeError, ValueError):  # a class that cannot be rebuilt from its arguments keeps its order
        return expr


class NotationPrettyPrinter(PrettyPrinter):
    """SymPy's 2-D text printer with the notation table's names for plain symbols (lam -> λ,
    p -> θ); renaming in the printer, not in the expression, keeps a textbook order intact."""

    def _print_Symbol(self, expr, bold_name=False):
        shown = symbol_display(expr.name)
        return super()._print_Symbol(sp.Symbol(shown.text) if shown is not None else expr, bold_name)

    def _print_Indexed(self, expr):  # p[i] -> θ[i]; SymPy's own falls back to str()
        label = symbol_display(expr.base.label.name)
        name = label.text if label is not None else expr.base.label.name
        return prettyForm("%s[%s]" % (name, ", ".join(str(i) for i in expr.indices)))


def pretty(expr) -> str:
    """Unicode 2-D text of ``expr``, in textbook order and with the notation's names."""
    printer = NotationPrettyPrinter(dict(use_unicode=True, wrap_line=False, order="none"))
    return printer.doprint(textbook_order(expr))


class NotationLatexPrinter(FunctionsLatex, LatexPrinter):
    """SymPy's LaTeX printer, with symlik's notation (core/notation.py) for names and the
    LaTeX of symlik's own functions (render/functions_latex.py)."""

    def _print_Symbol(self, expr, style="plain"):
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        shown = symbol_display(expr.name)
        if shown is not None:
            return shown.latex
        return super()._print_Symbol(expr, style=style)

    def _print_Term(self, expr):
        return TERMS[expr.key].latex

    def _print_OperatorName(self, expr):
        return r"\operatorname{%s}" % expr.name

    def _print_FormBase(self, expr):
        return _filled(FORMS[expr.key].latex, _braced_before_subscript(FORMS[expr.key].latex, [self._print(a) for a in expr.args]), expr.key, text=False)


class InlineLatexPrinter(NotationLatexPrinter):
    """Math for a line of prose: a Piecewise as "a if c, b otherwise" (``cases`` is display only)."""

    def _print_Piecewise(self, expr):
        parts = []
        for e, c in expr.args:
            if c == True:  # noqa: E712 - SymPy's true
                parts.append(r"%s \text{ otherwise}" % self._print(e))
                continue
            # delta >= |r| reads as |r| <= delta: the variable part first
            if getattr(c, "is_Relational", False) and c.lhs.is_Symbol and not c.rhs.is_Symbol:
                c = c.reversed
            parts.append(r"%s \text{ if } %s" % (self._print(e), self._print(c)))
        return r", \ ".join(parts)


class NotationTextPrinter(StrPrinter):
    """SymPy's text printer, with symlik's notation for names (lam -> λ, NLL(μ)). A Greek
    letter's name the table does not list is written as the text renderer's bodies
    (``sp.pretty``) write it, mu -> μ, mu_i -> μ_i, so that a step's two sides agree; an
    equation reads a = b."""

    def _print_Symbol(self, expr):
        shown = symbol_display(expr.name)
        if shown is not None:
            return shown.text
        base, underscore, suffix = expr.name.partition("_")
        return greek_unicode[base] + underscore + suffix if base in greek_unicode else super()._print_Symbol(expr)

    def _print_Equality(self, expr):
        return "%s = %s" % (self._print(expr.lhs), self._print(expr.rhs))

    def _print_Term(self, expr):
        return TERMS[expr.key].text

    def _print_OperatorName(self, expr):
        return expr.name

    def _print_FormBase(self, expr):
        return _filled(FORMS[expr.key].text, [self._print(a) for a in expr.args], expr.key, text=True)


def latex(expr, names: dict | None = None) -> str:
    """Display LaTeX of ``expr`` (``names``: symbol -> LaTeX, over the notation table)."""
    named = tuple(sorted((names or {}).items(), key=lambda item: str(item[0])))
    try:
        return _latex(expr, named)
    except TypeError:  # unhashable (a mutable Matrix): printed each time
        return _latex.__wrapped__(expr, named)


# Printing is a pure function of the expression and its names, and rendering a derivation asks for the
# same ones again and again (the line breaker tries each candidate split; the book repeats sides): 3,462
# calls over seven chapters of the book, 471 of them distinct.
@functools.lru_cache(maxsize=8192)
def _latex(expr, named: tuple) -> str:
    return NotationLatexPrinter(dict(symbol_names=dict(named), order="none")).doprint(textbook_order(expr))


def text(expr) -> str:
    """Plain text of ``expr``, with the notation's names."""
    return NotationTextPrinter(dict(order="none")).doprint(textbook_order(expr))


def inline_latex(expr, names: dict | None = None) -> str:
    """A SymPy expression as LaTeX for inline math in a reason (``names``: symbol -> LaTeX
    name, over the notation table). Indexed quantities are printed as plain symbols with
    their subscripts, which SymPy orders as a reader does ((y_i - mu_i)^2, not
    (-mu_i + y_i)^2), and a Piecewise is written on one line."""
    names = dict(names or {})
    printer = InlineLatexPrinter(dict(symbol_names=names, order="none"))
    flat = {}
    for e in sorted(expr.atoms(sp.Indexed), key=str):
        label = e.base.label
        base = printer._print(label)
        flat[e] = sp.Symbol("_".join([label.name, *map(str, e.indices)]), real=True)
        names[flat[e]] = "{%s}_{%s}" % (base, ",".join(sp.latex(i) for i in e.indices))  # {p_{p}}_{k}
    return _breakable(printer.doprint(textbook_order(expr.xreplace(flat))))


_SIZED = re.compile(r"\\(?:left|right)(?=[()|\[\]])")


def _breakable(tex: str) -> str:
    """Inline math that TeX may break across lines: \\left( \\right) and the braces SymPy puts
    around a function's argument (\\log{\\left(x\\right)}) each make one unbreakable box, and a
    long formula in a reason would stick out into the margin."""
    if r"\left." not in tex and r"\right." not in tex:  # \left. f \right|_{x=0} keeps its pair
        tex = _SIZED.sub("", tex)
    return re.sub(r"(?<!\\) +\)", ")", _unbraced(tex))


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


def _wrapped(text: str) -> bool:
    """Is ``text`` one bracketed group, ``(...)``, ``|...|``, ``√(...)`` or ``log(...)``, with an optional power?"""
    body = re.sub(r"\^(?:\w+|\(.*\))$", "", text)
    body = re.sub(r"^(?:√|[^\W\d_]+(?=\())", "", body)  # √(...), log(...)
    if len(body) < 2 or (body[0], body[-1]) not in (("(", ")"), ("|", "|")):
        return False
    if body[0] == "|":
        return "|" not in body[1:-1]
    depth = 0
    for i, c in enumerate(body):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and i < len(body) - 1:
            return False
    return True


def _unbraced(tex: str) -> str:
    """\\log{(x)} -> \\log(x), \\cosh^{2}{(x)} -> \\cosh^{2}(x), nested ones too."""
    out, i = [], 0
    for m in re.finditer(r"\\[A-Za-z]+(?:\^\{[^{}]*\})?\{\(", tex):  # \log{(, \cosh^{2}{(
        if m.start() < i:
            continue
        arg, end = _group(tex, m.end() - 2)
        if _wrapped(arg.strip()):
            out += [tex[i : m.end() - 2], _unbraced(arg.strip())]
            i = end
    return "".join(out) + tex[i:]
