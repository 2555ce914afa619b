"""User-typed formulas -> SymPy, by a whitelist. Never eval, sympify or parse_expr.

``sympify`` and ``parse_expr`` run Python's ``eval`` on their input, so user
text (the CLI, configuration files) must never reach them. Here the text is
parsed by ``ast.parse(mode="eval")``, which only builds a syntax tree and
runs nothing, and the tree is walked node by node: numbers, the declared
names, ``+ - * / **``, unary minus and calls to a fixed table of functions
become SymPy objects; every other node (attribute access, subscripts,
lambda, comprehensions, keywords, unknown names...) is refused with an error
naming the offending token.

Hostile input cannot hang or exhaust the stack: the text's length and its
bracket depth are capped *before* Python parses it, the tree's depth is
capped while walking it, literals are short, and any number built from them
(2**2**30, gamma(10**6)) is refused once it would grow past a fixed size.
"""

from __future__ import annotations

import ast
import warnings
from typing import Mapping

import sympy as sp

from symlik.core.errors import SymlikError

MAX_LENGTH = 2000  # characters
MAX_DEPTH = 60  # nesting of brackets and of the syntax tree
MAX_LITERAL = 30  # characters in one numeric literal
MAX_NUMBER_BITS = 1024  # an exact number built by arithmetic may not grow past this
MAX_COMBINATORIAL_ARG = 170  # gamma(171) already overflows a double


class ParseError(SymlikError):
    """A formula string that the whitelist parser refuses; the message names the token."""


def _log(x, base=None):
    return sp.log(x) if base is None else sp.log(x, base)


# name -> (SymPy constructor, allowed numbers of arguments, evaluates numbers exactly?)
FUNCTIONS = {
    "exp": (sp.exp, (1,), False),
    "log": (_log, (1, 2), False),
    "sqrt": (sp.sqrt, (1,), False),
    "abs": (sp.Abs, (1,), False),
    "Abs": (sp.Abs, (1,), False),
    "sign": (sp.sign, (1,), False),
    "gamma": (sp.gamma, (1,), True),
    "loggamma": (sp.loggamma, (1,), True),
    "lgamma": (sp.loggamma, (1,), True),
    "factorial": (sp.factorial, (1,), True),
    "binomial": (sp.binomial, (2,), True),
    "beta": (sp.beta, (2,), True),
    "erf": (sp.erf, (1,), False),
    "erfc": (sp.erfc, (1,), False),
    "sin": (sp.sin, (1,), False),
    "cos": (sp.cos, (1,), False),
    "tan": (sp.tan, (1,), False),
    "atan": (sp.atan, (1,), False),
    "sinh": (sp.sinh, (1,), False),
    "cosh": (sp.cosh, (1,), False),
    "tanh": (sp.tanh, (1,), False),
    "asinh": (sp.asinh, (1,), False),
    "besseli": (sp.besseli, (2,), True),
}

CONSTANTS = {"pi": sp.pi, "E": sp.E, "inf": sp.oo, "oo": sp.oo}

_OPERATORS = {ast.Add: sp.Add, ast.Sub: None, ast.Mult: sp.Mul, ast.Div: None, ast.Pow: sp.Pow}
_OPERATOR_TOKENS = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Not: "not", ast.Invert: "~",
}
# What to call a refused node in the message (the rest use their class name).
_NODE_WORDS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression", ast.Compare: "comparison", ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression", ast.Tuple: "tuple", ast.List: "list", ast.Dict: "dict",
    ast.Set: "set", ast.JoinedStr: "f-string", ast.NamedExpr: "assignment expression",
    ast.Starred: "starred argument", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


def _token(text: str, node: ast.AST) -> str:
    """The source text of ``node`` (shortened), for the error message."""
    try:
        segment = ast.get_source_segment(text, node) or ""
    except Exception:  # pragma: no cover - positions are always there for eval-mode trees
        segment = ""
    segment = " ".join(segment.split())
    return segment if len(segment) <= 40 else segment[:37] + "..."


class _Walker:
    def __init__(self, text: str, names: Mapping[str, sp.Basic], what: str) -> None:
        self.text, self.names, self.what = text, names, what

    def fail(self, message: str, node: ast.AST | None = None) -> ParseError:
        where = f" (column {node.col_offset + 1})" if node is not None and hasattr(node, "col_offset") else ""
        return ParseError(f"{self.what}: {message}{where}")

    def walk(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"the formula is nested more than {MAX_DEPTH} levels deep")
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            word = _NODE_WORDS.get(type(node), type(node).__name__)
            raise self.fail(f"{word} {_token(self.text, node)!r} is not allowed", node)
        return self.checked(method(node, depth + 1), node)

    def checked(self, value: sp.Expr, node: ast.AST) -> sp.Expr:
        """Refuse exact numbers that grew huge anywhere in the value (they would make SymPy crawl
        later), and values that are undefined (nan) or infinite without a sign (zoo): SymPy would
        compare them later and fail with a TypeError far from the formula."""
        numbers = [value] if isinstance(value, sp.Rational) else value.atoms(sp.Rational)
        if any(_bits(n) > MAX_NUMBER_BITS for n in numbers):
            raise self.fail(f"the number {_token(self.text, node)!r} is too large", node)
        if value.has(sp.nan):
            raise self.fail(f"{_token(self.text, node)!r} is undefined (not a number)", node)
        if value.has(sp.zoo):
            raise self.fail(f"{_token(self.text, node)!r} is infinite (as log(0) or 1/0 is)", node)
        return value

    # -- leaves ------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant, depth: int) -> sp.Expr:
        value = node.value
        token = _token(self.text, node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{token!r} is not a number", node)
        if len(token) > MAX_LITERAL:
            raise self.fail(f"the literal {token!r} is longer than {MAX_LITERAL} characters", node)
        if isinstance(value, int):
            return sp.Integer(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail(f"the literal {token!r} is not finite", node)
        return sp.Rational(repr(value))  # exact: 0.1 is 1/10, not the nearest double

    def visit_Name(self, node: ast.Name, depth: int) -> sp.Expr:
        name = node.id
        if name.startswith("__") or name.endswith("__"):
            raise self.fail(f"names with double underscores such as {name!r} are not allowed", node)
        if name in self.names:
            return self.names[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"{name!r} is a function; call it as {name}(...)", node)
        known = ", ".join(sorted(self.names)) or "none"
        raise self.fail(f"unknown name {name!r} (declared: {known}; constants: pi, E)", node)

    # -- operators ---------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp, depth: int) -> sp.Expr:
        # a + b + c parses as ((a + b) + c): walk that left spine in a loop, so a long
        # flat sum or product is not "deep". (Powers nest to the right and stay recursive.)
        chain = []
        while isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _OPERATORS:
                hint = "; write powers as **" if op is ast.BitXor else ""
                raise self.fail(f"operator {_OPERATOR_TOKENS.get(op, op.__name__)!r} is not allowed{hint}", node)
            if op is ast.Pow and chain:
                break
            chain.append(node)
            if op is ast.Pow:
                break
            node = node.left
        first = chain[-1]
        result = self.walk(first.left, depth)
        for link in reversed(chain):
            right = self.walk(link.right, depth)
            result = self.checked(self.combine(type(link.op), result, right, link), link)
        return result

    def combine(self, op, left: sp.Expr, right: sp.Expr, node: ast.AST) -> sp.Expr:
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            if right == 0:
                raise self.fail(f"division by zero in {_token(self.text, node)!r}", node)
            return left / right
        return self.power(left, right, node)

    def power(self, base: sp.Expr, exponent: sp.Expr, node: ast.AST) -> sp.Expr:
        # Check the size *before* SymPy evaluates 9**9**9 exactly. A numeric power distributes over
        # a product's numeric factors ((3*y)**n = 3**n * y**n, sqrt(3)**n = 3**(n/2)), so each
        # such factor of the base counts, not only a Rational base.
        if isinstance(exponent, sp.Rational) and abs(exponent) > 1:
            if _coefficient_bits(base) * abs(exponent) > MAX_NUMBER_BITS:
                raise self.fail(f"the number {_token(self.text, node)!r} is too large", node)
        if base == 0 and isinstance(exponent, sp.Number) and exponent.is_negative:
            raise self.fail(f"division by zero in {_token(self.text, node)!r}", node)
        return sp.Pow(base, exponent)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int) -> sp.Expr:
        op = type(node.op)
        if op is ast.USub:
            return -self.walk(node.operand, depth)
        if op is ast.UAdd:
            return self.walk(node.operand, depth)
        raise self.fail(f"operator {_OPERATOR_TOKENS.get(op, op.__name__)!r} is not allowed", node)

    def visit_Call(self, node: ast.Call, depth: int) -> sp.Expr:
        if isinstance(node.func, ast.Attribute):
            raise self.fail(f"attribute access {_token(self.text, node.func)!r} is not allowed", node)
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"only calls of named functions are allowed; got {_token(self.text, node.func)!r}", node)
        name = node.func.id
        if name not in FUNCTIONS:
            if name.startswith("__") or name.endswith("__"):
                raise self.fail(f"names with double underscores such as {name!r} are not allowed", node)
            raise self.fail(f"unknown function {name!r} (allowed: {', '.join(sorted(FUNCTIONS))})", node)
        if node.keywords:
            raise self.fail(f"keyword arguments are not allowed in {name}(...)", node)
        constructor, arities, exact = FUNCTIONS[name]
        if len(node.args) not in arities:
            want = " or ".join(str(a) for a in arities)
            raise self.fail(f"{name} takes {want} argument(s); got {len(node.args)}", node)
        args = [self.walk(a, depth) for a in node.args]
        if exact and any(isinstance(a, sp.Number) and abs(a) > MAX_COMBINATORIAL_ARG for a in args):
            raise self.fail(f"{name} of a number larger than {MAX_COMBINATORIAL_ARG} is not allowed", node)
        try:
            return constructor(*args)
        except (TypeError, ValueError, ArithmeticError, RecursionError):  # SymPy could not evaluate it
            raise self.fail(f"{_token(self.text, node)!r} cannot be evaluated", node) from None


def _bits(number: sp.Rational) -> int:
    return max(int(number.p).bit_length(), int(number.q).bit_length())


def _coefficient_bits(base: sp.Expr) -> int:
    """Bits of the exact numbers that a numeric power of ``base`` would raise: its numeric
    factors, and the numeric bases of its factors (sqrt(3) = 3**(1/2) counts 3, scaled by 1/2)."""
    bits = 0
    for factor in sp.Mul.make_args(base):
        if isinstance(factor, sp.Rational) and abs(factor) != 1 and factor != 0:
            bits += _bits(factor)
        elif isinstance(factor, sp.Pow) and isinstance(factor.base, sp.Rational) and isinstance(factor.exp, sp.Rational):
            if abs(factor.base) != 1 and factor.base != 0:
                bits += max(1, int(_bits(factor.base) * abs(factor.exp)))
    return bits


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def parse_expression(text, names: Mapping[str, sp.Basic], *, what: str = "formula") -> sp.Expr:
    """Parse ``text`` into a SymPy expression over the symbols in ``names``.

    Only numbers, the names in ``names``, the constants pi and E, the
    operators ``+ - * / **`` (``^`` is refused: in Python it is xor), and
    calls to the functions in ``FUNCTIONS`` are accepted. Anything else
    raises ``ParseError`` naming the token, prefixed by ``what``.

    >>> import sympy as sp
    >>> y, m = sp.symbols("y m", real=True)
    >>> parse_expression("exp(-(y - m)**2 / 2)", {"y": y, "m": m})
    exp(-(-m + y)**2/2)
    """
    if not isinstance(text, str):
        raise ParseError(f"{what} must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"{what} is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    for column, ch in enumerate(text, 1):
        if not ch.isascii():
            raise ParseError(f"{what}: character {ch!r} at column {column} is not allowed (use ASCII)")
        if not (ch.isprintable() or ch in " \t"):
            raise ParseError(f"{what}: control character {ch!r} at column {column} is not allowed")
    if not text.strip():
        raise ParseError(f"{what} is empty")
    if _bracket_depth(text) > MAX_DEPTH:
        raise ParseError(f"{what}: brackets are nested more than {MAX_DEPTH} levels deep")
    try:
        with warnings.catch_warnings():  # "1if y else 0" warns before the refusal; the error says enough
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise ParseError(f"{what} is not a valid formula: {exc.msg}{col}") from None
    except (RecursionError, MemoryError, ValueError) as exc:  # pragma: no cover - guarded above
        raise ParseError(f"{what} could not be parsed: {type(exc).__name__}") from None
    walker = _Walker(text.strip(), names, what)
    try:
        return walker.walk(tree.body, 0)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps the walk far from the limit
        raise ParseError(f"{what}: the formula is nested too deeply") from None
