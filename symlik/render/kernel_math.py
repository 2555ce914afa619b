"""A compiled kernel's Python source, typeset as math by latexify-py.

The page that shows a derivation also shows the code the kernel runs,
rendered by latexify, so a reader can see that the compiled code is the
math. latexify knows ``log``, ``exp``, ``abs``, ``sum`` over a generator and
``gamma``, but not NumPy's stable functions or symlik's runtime helpers; it
would print ``\\mathrm{np}.\\mathrm{log1p}``. So the source is first rewritten
(an ``ast.NodeTransformer``) into the mathematics each call computes:

    np.log1p(x)            -> log(1 + x)
    np.logaddexp(0, z)     -> log(1 + exp(z))
    _xlogy(a, b)           -> a * log(b)
    _logsumexp(z)          -> log(sum(exp(z[j]) for j in range(C)))
    _neg_log_softmax(z)    -> log(sum(exp(z[j]) for j in range(C))) - z   (z[k] inside a sum)
    np.sum(e, axis=-1)     -> sum(e[k] for k in range(C))   (event arrays indexed by k)
    gammaln(x)             -> log(gamma(x))
    _gather(p, y)          -> p[y]
    _scaled_square(b, c)   -> c * b**2
    z = _pin_infinite_rows(z)  -> (dropped: it takes the formula's limit, the math is the same)

Each rule is one entry of ``CALL_RULES``. An unknown helper is shown by its
bare name as an operator (``\\operatorname{name}``), never with a module
prefix. The rewritten source is plain Python, so a test can evaluate it and
compare it with the kernel: the math shown is the math computed.
"""

from __future__ import annotations

import ast
import itertools
import keyword
import linecache
import re

from symlik.core.notation import SYMBOLS

# Names the kernels use for arrays, shown as the derivation shows them (the displays from the
# notation table; logits is a link's input, which a derivation writes z).
DISPLAY_NAMES = {"logits": "z", **{name: SYMBOLS[name].latex for name in ("lam", "rate")}}


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _call(fn: str, *args) -> ast.Call:
    return ast.Call(func=_name(fn), args=list(args), keywords=[])


def _add(a, b) -> ast.BinOp:
    return ast.BinOp(left=a, op=ast.Add(), right=b)


def _mul(a, b) -> ast.BinOp:
    return ast.BinOp(left=a, op=ast.Mult(), right=b)


def _const(v) -> ast.Constant:
    return ast.Constant(value=v)


def _is_zero(node) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def _neg(node):
    """The operand of a negation, or None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return node.operand
    return None


def _log1p(x):
    if _neg(x) is not None:  # log(1 - p), not log(1 + -p)
        return _call("log", ast.BinOp(left=_const(1), op=ast.Sub(), right=_neg(x)))
    return _call("log", _add(_const(1), x))


def _logaddexp(a, b):
    if _is_zero(a):
        return _log1p(_call("exp", b))
    return _call("log", _add(_call("exp", a), _call("exp", b)))


def _lgamma(x):
    return _call("log", _call("gamma", x))


# name (after the module prefix and leading underscores are dropped) -> rewrite of the arguments.
# Rules that need the event axis (sums, logsumexp) are methods of _MathRewriter.
CALL_RULES = {
    "log1p": _log1p,
    "expm1": lambda x: ast.BinOp(left=_call("exp", x), op=ast.Sub(), right=_const(1)),
    "logaddexp": _logaddexp,
    "maximum": lambda a, b: _call("max", a, b),
    "minimum": lambda a, b: _call("min", a, b),
    "fabs": lambda x: _call("abs", x),
    "absolute": lambda x: _call("abs", x),
    "xlogy": lambda a, b: _mul(a, _call("log", b)),
    "xlog1py": lambda a, b: _mul(a, _log1p(b)),
    "sigmoid": lambda z: ast.BinOp(left=_const(1), op=ast.Div(), right=_add(_const(1), _call("exp", ast.UnaryOp(op=ast.USub(), operand=z)))),
    "expit": lambda z: CALL_RULES["sigmoid"](z),
    "softplus": lambda z: _log1p(_call("exp", z)),
    "gammaln": _lgamma,
    "lgamma": _lgamma,
    "loggamma": _lgamma,
    "betaln": lambda a, b: ast.BinOp(
        left=_add(_lgamma(a), _lgamma(b)), op=ast.Sub(), right=_lgamma(_add(a, b))
    ),
    "square": lambda x: ast.BinOp(left=x, op=ast.Pow(), right=_const(2)),
    # (c b) b, half a square computed without overflowing b**2: the math is c b**2
    "scaled_square": lambda b, c: _mul(c, ast.BinOp(left=b, op=ast.Pow(), right=_const(2))),
    "power": lambda a, b: ast.BinOp(left=a, op=ast.Pow(), right=b),
    "log_cosh": lambda x: _call("log", _call("cosh", x)),
    "logcosh": lambda x: _call("log", _call("cosh", x)),
}
def _compare(op):
    return lambda a, b: ast.Compare(left=a, ops=[op()], comparators=[b])


def _select(conditions, values, *default):
    """np.select([c1, ..., True], [v1, ..., vn]) -> v1 if c1 else ... : latexify typesets it as cases."""
    pairs = list(zip(conditions.elts, values.elts))
    out = pairs[-1][1] if isinstance(pairs[-1][0], ast.Constant) and pairs[-1][0].value is True else (
        default[0] if default else _name("nan")
    )
    for cond, value in reversed(pairs):
        if isinstance(cond, ast.Constant) and cond.value is True:
            continue
        out = ast.IfExp(test=cond, body=value, orelse=out)
    return out


CALL_RULES.update(
    {
        "greater_equal": _compare(ast.GtE),
        "greater": _compare(ast.Gt),
        "less_equal": _compare(ast.LtE),
        "less": _compare(ast.Lt),
        "equal": _compare(ast.Eq),
        "select": _select,
    }
)


def _sub(a, b) -> ast.BinOp:
    return ast.BinOp(left=a, op=ast.Sub(), right=b)


def _product(factors):
    out = factors[0]
    for f in factors[1:]:
        out = _mul(out, f)
    return out


# The numerics helpers (backends/_numpy_runtime.py): each computes exactly this math, more
# carefully; double-double operands arrive as their value (see visit_Tuple).
CALL_RULES.update(
    {
        "x_exp": lambda u, *factors: _mul(_product(list(factors)), _call("exp", u)),
        "log1mexp": lambda x: _call("log", _sub(_const(1), _call("exp", x))),
        "log_erfc": lambda x: _call("log", _call("erfc", x)),
        # log Phi(x) = log(erfc(-x / sqrt 2) / 2)
        "log_ndtr": lambda x: _call("log", _div(_call("erfc", _div(ast.UnaryOp(op=ast.USub(), operand=x), _call("sqrt", _const(2)))), _const(2))),
        # phi(x)/Phi(x) = sqrt(2/pi) e^(-x^2/2) / erfc(-x / sqrt 2)
        "inverse_mills": lambda x: _div(_mul(_call("sqrt", _div(_const(2), _name("pi"))),
                                             _call("exp", _div(ast.UnaryOp(op=ast.USub(), operand=_mul(x, x)), _const(2)))),
                                        _call("erfc", _div(ast.UnaryOp(op=ast.USub(), operand=x), _call("sqrt", _const(2))))),
        "log_expm1": lambda x: _call("log", _sub(_call("exp", x), _const(1))),
        "log_ratio": lambda a, b: _call("log", _div(a, b)),
        "xmul": _mul,  # x v with 0 v = 0 at v = +-inf: the product, where it is defined
        # _branches(lambda: select) only silences the warnings of branches not taken: the select itself
        "branches": lambda thunk: thunk.body if isinstance(thunk, ast.Lambda) else thunk,
        "log1p_positive": lambda x, log_x: _log1p(x),
        "log_binomial": lambda n, k: _sub(_sub(_lgamma(_add(n, _const(1))), _lgamma(_add(k, _const(1)))),
                                          _lgamma(_add(_sub(n, k), _const(1)))),
        "lgamma_diff": lambda x, m: _sub(_lgamma(_add(x, m)), _lgamma(x)),
        "log_i0": lambda x: _call("log", _call("i0", x)),
        "log_i0e": lambda x: _sub(_call("log", _call("i0", x)), _call("abs", x)),
        "log_iv": lambda nu, x: _call("log", _call("iv", nu, x)),
        "log_iv_over_power": lambda nu, x: _sub(_call("log", _call("iv", nu, x)), _mul(nu, _call("log", x))),
        "iv_ratio": lambda nu, x: _div(_call("iv", _add(nu, _const(1)), x), _call("iv", nu, x)),
        "cosm1": lambda x: _sub(_call("cos", x), _const(1)),
        "dd_cosm1": lambda x: _sub(_call("cos", x), _const(1)),
        "dd_cos": lambda x: _call("cos", x),
        "dd_sin": lambda x: _call("sin", x),
        "dd_add": _add,
        "dd_mul": _mul,
        "dd_div": lambda a, b: ast.BinOp(left=a, op=ast.Div(), right=b),
        "dd_neg": lambda a: ast.UnaryOp(op=ast.USub(), operand=a),
        "dd_abs": lambda a: _call("abs", a),
        "dd_pow": lambda base, e, log_base: ast.BinOp(left=base, op=ast.Pow(), right=e),
        "dd_logabs": lambda a: _call("log", _call("abs", a)),
        "gamma_deviance": lambda y, mu: _gamma_deviance(_div(y, mu), _sub(_call("log", y), _call("log", mu))),
        "gamma_deviance_log": lambda y, z: _gamma_deviance(_mul(y, _call("exp", ast.UnaryOp(op=ast.USub(), operand=z))), _sub(_call("log", y), z)),
        # Loader's saddle-point forms (bd0, stirlerr) compute the textbook NLL without its cancellation
        "neg_log_poisson": lambda y, rate: _add(_sub(rate, _mul(y, _call("log", rate))), _lgamma(_add(y, _const(1)))),
        "neg_log_poisson_log": lambda y, z: _add(_sub(_call("exp", z), _mul(y, z)), _lgamma(_add(y, _const(1)))),
        # -log NB(y; n, p) and -log Bin(y; n, p), with p = sigmoid(z) in the logit forms
        "neg_log_neg_binomial": lambda y, n, p: _sub(_neg_log_gamma_ratio(y, n), _add(_mul(n, _call("log", p)), _mul(y, _log1p(ast.UnaryOp(op=ast.USub(), operand=p))))),
        "neg_log_neg_binomial_logit": lambda y, n, z: _add(_neg_log_gamma_ratio(y, n), _sub(_mul(_add(n, y), _log1p(_call("exp", z))), _mul(n, z))),
        "neg_log_binomial": lambda y, n, p: _sub(_sub(ast.UnaryOp(op=ast.USub(), operand=_log_choose(n, y)), _mul(y, _call("log", p))), _mul(_sub(n, y), _log1p(ast.UnaryOp(op=ast.USub(), operand=p)))),
        "neg_log_binomial_logit": lambda y, n, z: _sub(_sub(_mul(n, _log1p(_call("exp", z))), _mul(y, z)), _log_choose(n, y)),
        "neg_log_gamma": lambda y, mu, k: _neg_log_gamma(_div(y, mu), _call("log", mu), y, k),
        "neg_log_gamma_log": lambda y, z, k: _neg_log_gamma(_mul(y, _call("exp", ast.UnaryOp(op=ast.USub(), operand=z))), z, y, k),
        # log B(a, b) - (a - 1) log y - (b - 1) log(1 - y)
        "neg_log_beta": lambda y, a, b: _neg_log_beta(y, a, b),
        # the same with a = phi sigmoid(z), b = phi sigmoid(-z)
        "neg_log_beta_logit": lambda y, z, phi: _neg_log_beta(
            y, _mul(phi, CALL_RULES["sigmoid"](z)), _mul(phi, CALL_RULES["sigmoid"](ast.UnaryOp(op=ast.USub(), operand=z)))),
    }
)


def _neg_log_beta(y, a, b):
    # log B(a, b) - (a - 1) log y - (b - 1) log(1 - y)
    log_beta = CALL_RULES["betaln"](a, b)
    return _sub(_sub(log_beta, _mul(_sub(a, _const(1)), _call("log", y))),
                _mul(_sub(b, _const(1)), _log1p(ast.UnaryOp(op=ast.USub(), operand=y))))


def _neg_log_gamma_ratio(y, n):
    # log Gamma(n) + log y! - log Gamma(n + y): minus the log of the negative binomial's count coefficient
    return _sub(_add(_lgamma(n), _lgamma(_add(y, _const(1)))), _lgamma(_add(n, y)))


def _log_choose(n, k):
    return _sub(_sub(_lgamma(_add(n, _const(1))), _lgamma(_add(k, _const(1)))), _lgamma(_add(_sub(n, k), _const(1))))


def _div(a, b) -> ast.BinOp:
    return ast.BinOp(left=a, op=ast.Div(), right=b)


def _gamma_deviance(ratio, log_ratio):
    # y/mu - 1 - log(y/mu)
    return _sub(_sub(ratio, _const(1)), log_ratio)


def _neg_log_gamma(ratio, log_mu, y, k):
    # k y/mu + k log mu - k log k - (k - 1) log y + log Gamma(k)
    plain = _add(_mul(k, ratio), _mul(k, log_mu))
    plain = _sub(plain, _mul(k, _call("log", k)))
    plain = _sub(plain, _mul(_sub(k, _const(1)), _call("log", y)))
    return _add(plain, _lgamma(k))

# Module constants shown by their mathematical name.
CONSTANTS = {"pi": "pi", "e": "e", "inf": "infty"}


def _dotted(node) -> str | None:
    """'np.log1p' for an Attribute chain of Names, 'x' for a Name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _bare(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1].lstrip("_")


class _MathRewriter(ast.NodeTransformer):
    """Kernel source -> the same computation written with math-level calls."""

    def __init__(self, event_arrays, size_name):
        self.event_arrays = set(event_arrays)
        self.size_name = size_name
        self.gathered: dict[str, ast.AST] = {}

    def visit_Tuple(self, node):
        # (x, 0.0): a value entering double-double arithmetic; it is x.
        if len(node.elts) == 2 and isinstance(node.elts[1], ast.Constant) and node.elts[1].value == 0:
            return self.visit(node.elts[0])
        return self.generic_visit(node)

    # -- statements ------------------------------------------------------------
    def visit_FunctionDef(self, node):
        body = []
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target, value = stmt.targets[0].id, stmt.value
                if isinstance(value, ast.Subscript) and _dotted(value.value) and _dotted(value.value).endswith(".shape"):
                    self.size_name = target  # C = p.shape[-1]: the event size keeps its name
                    continue
                if isinstance(value, ast.Call) and _dotted(value.func) in ("_event",):
                    continue  # sigma_e = _event(sigma): the same quantity inside the sum
                if isinstance(value, ast.Call) and _dotted(value.func) in ("_pin_infinite_rows",):
                    continue  # z = _pin_infinite_rows(z): the formula's limit at +inf logits, not other math
                if isinstance(value, ast.Call) and _dotted(value.func) in ("_gather",):
                    array, index = value.args
                    self.gathered[target] = ast.Subscript(value=self.visit(array), slice=self.visit(index), ctx=ast.Load())
                    continue
            body.append(stmt)
        node.body = [self.visit(s) for s in body]
        return node

    # -- expressions -----------------------------------------------------------
    def visit_Name(self, node):
        if node.id in self.gathered:
            return self.gathered[node.id]
        if node.id.endswith("_e") and node.id[:-2]:
            return _name(node.id[:-2])
        return node

    def visit_Subscript(self, node):
        # x[..., i]: entry i of an event written out by position (the multivariate normal's y, mu);
        # one observation's x is its event vector, so the entry is x[i]
        s = node.slice
        if (isinstance(s, ast.Tuple) and s.elts and isinstance(s.elts[0], ast.Constant) and s.elts[0].value is Ellipsis
                and all(isinstance(e, ast.Constant) and isinstance(e.value, int) for e in s.elts[1:])):
            index = s.elts[1] if len(s.elts) == 2 else ast.Tuple(elts=s.elts[1:], ctx=ast.Load())
            return ast.Subscript(value=self.visit(node.value), slice=index, ctx=node.ctx)
        return self.generic_visit(node)

    def visit_Attribute(self, node):
        dotted = _dotted(node)
        if dotted and "." in dotted and _bare(dotted) in CONSTANTS:
            return _name(CONSTANTS[_bare(dotted)])
        return self.generic_visit(node)

    def visit_Call(self, node):
        dotted = _dotted(node.func)
        if dotted is None:
            return self.generic_visit(node)
        bare = _bare(dotted)
        args = [self.visit(a) for a in node.args]
        if bare == "sum" and "." in dotted:
            return self._event_sum(args[0])
        for fn, op in (("logical_and", ast.And), ("logical_or", ast.Or)):  # a Piecewise's compound condition
            if dotted.endswith(fn + ".reduce") and isinstance(args[0], (ast.Tuple, ast.List)):
                return ast.BoolOp(op=op(), values=list(args[0].elts))
            if bare == fn:
                return ast.BoolOp(op=op(), values=args)
        if bare == "logsumexp":
            return self._logsumexp(args[0])
        if bare == "logsumexp_minus":
            return ast.BinOp(left=self._logsumexp(args[0]), op=ast.Sub(), right=args[1])
        if bare == "neg_log_softmax":  # -log softmax(z)_k, entry by entry inside a sum over k
            return ast.BinOp(left=self._logsumexp(args[0]), op=ast.Sub(), right=args[0])
        if bare in CALL_RULES:
            return CALL_RULES[bare](*args)
        return ast.Call(func=_name(bare), args=args, keywords=[])

    # -- the event axis --------------------------------------------------------
    def _indexed(self, expr, index: str):
        """expr with every event array x replaced by x[index]."""
        arrays = self.event_arrays

        class Index(ast.NodeTransformer):
            def visit_Subscript(self, node):
                return node  # already an element, e.g. p[y]

            def visit_Name(self, node):
                if node.id in arrays:
                    return ast.Subscript(value=node, slice=_name(index), ctx=ast.Load())
                return node

        return Index().visit(expr)

    def _over_event(self, body, index: str):
        size = self.size_name or "C"
        gen = ast.comprehension(
            target=ast.Name(id=index, ctx=ast.Store()), iter=_call("range", _name(size)), ifs=[], is_async=0
        )
        return _call("sum", ast.GeneratorExp(elt=self._indexed(body, index), generators=[gen]))

    # Sibling sums may share k; a logsumexp inside a sum over k needs its own j.
    def _event_sum(self, body):
        return self._over_event(body, "k")

    def _logsumexp(self, z):
        return _call("log", self._over_event(_call("exp", z), "j"))


class _Tidy(ast.NodeTransformer):
    """Signs and fractions as a person writes them: a - b, not a + -b; x/(2 s^2), not (1/2) x / s^2."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if isinstance(node.op, (ast.Add, ast.Sub)):
            flipped = _neg(right)
            if flipped is None and isinstance(right, ast.BinOp) and isinstance(right.op, ast.Mult) and _neg(right.left) is not None:
                flipped = ast.BinOp(left=_neg(right.left), op=ast.Mult(), right=right.right)  # a + (-b) c
            if flipped is not None:
                op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
                return ast.BinOp(left=left, op=op, right=flipped)
        if (
            isinstance(node.op, ast.Div)
            and isinstance(left, ast.BinOp)
            and isinstance(left.op, ast.Mult)
            and isinstance(left.left, ast.BinOp)
            and isinstance(left.left.op, ast.Div)
            and isinstance(left.left.left, ast.Constant)
            and left.left.left.value == 1
        ):  # (1/b) * x / y -> x / (b * y)
            return ast.BinOp(left=left.right, op=ast.Div(), right=ast.BinOp(left=left.left.right, op=ast.Mult(), right=right))
        return node


def math_source(source: str, event_arrays=(), size_name: str | None = None) -> str:
    """The kernel's Python source rewritten into math-level calls (see the module doc)."""
    tree = ast.parse(source)
    tree = _Tidy().visit(_MathRewriter(event_arrays, size_name).visit(tree))
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


_counter = itertools.count()

# LaTeX latexify prints for names it does not know -> what a mathematician writes.
_LATEX_FIXES = (
    (re.compile(r"\\mathrm\{(max|min)\}"), r"\\\1"),
    (re.compile(r"\\mathrm\{loss\}"), r"\\ell"),
    (re.compile(r"\\mathrm\{infty\}"), r"\\infty"),
)


def _operator_names(tex: str, functions: set[str]) -> str:
    """Unknown helpers print as \\mathrm{name}; typeset them as operators."""
    for fn in functions:
        esc = fn.replace("_", r"\_")
        tex = tex.replace(r"\mathrm{%s}" % esc, r"\operatorname{%s}" % esc)
    return tex


def source_latex(source: str, event_arrays=(), size_name=None, rename=None) -> dict[str, str]:
    """{function name: LaTeX} for each function in ``source``, via latexify.

    ``rename`` maps an input name to the LaTeX it is shown as (``logits`` -> ``z``).
    """
    import latexify  # a runtime dependency, imported only when kernels are shown as math

    text = math_source(source, event_arrays, size_name)
    tree = ast.parse(text)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    # latexify reads a function's source through inspect, so give it a file to read.
    filename = f"<symlik kernel as math {next(_counter)}>"
    shown = re.sub(r"^def (\w+)\(", "def loss(", text, flags=re.M)
    linecache.cache[filename] = (len(shown), None, shown.splitlines(True), filename)
    out = {}
    try:
        for name, chunk in zip(names, _split_functions(shown)):
            namespace: dict = {}
            exec(compile(chunk.source, filename, "exec"), namespace)  # noqa: S102 - our own rewritten kernel source
            fn = namespace["loss"]
            # latexify renames to Python identifiers only: rename to placeholders, then to the LaTeX.
            used = {k: v for k, v in (rename or {}).items() if k in text}
            direct = {k: v for k, v in used.items() if v.isidentifier() and not keyword.iskeyword(v)}
            placeholders = {k: f"symlikname{n}" for n, k in enumerate(used) if k not in direct}
            tex = latexify.get_latex(
                fn, use_math_symbols=True, reduce_assignments=True, identifiers={**direct, **placeholders}
            )
            for k, ph in placeholders.items():
                tex = re.sub(r"\\mathrm\{%s\}|\b%s\b" % (ph, ph), lambda m, k=k: rename[k], tex)
            for pattern, replacement in _LATEX_FIXES:
                tex = pattern.sub(replacement, tex)
            out[name] = _operator_names(tex, called - _KNOWN_TO_LATEXIFY)
    finally:
        linecache.cache.pop(filename, None)
    return out


_KNOWN_TO_LATEXIFY = {"log", "exp", "abs", "sum", "range", "gamma", "max", "min", "sqrt", "cosh", "sinh", "tanh",
                      "cos", "sin", "tan", "log2", "log10"}


class _Chunk:
    def __init__(self, source: str, line: int):
        self.source = source
        self.line = line


def _split_functions(text: str):
    """Each top-level def of ``text``, padded with blank lines so line numbers stay true."""
    tree = ast.parse(text)
    lines = text.splitlines(True)
    for f in tree.body:
        if isinstance(f, ast.FunctionDef):
            start, end = f.lineno, f.end_lineno
            yield _Chunk("\n" * (start - 1) + "".join(lines[start - 1 : end]), start)


def kernel_latex(kernel) -> dict[str, str]:
    """The kernel's functions as LaTeX: ``{"dense": ..., "index": ...}`` (index: class-index targets)."""
    d = kernel.derivation
    event = tuple(kernel.event_inputs) + (("y",) if d.event and "y" not in kernel.event_inputs else ())
    size = d.spec.event_size if d.event else None
    link_inputs = {n for n in d.predicted_inputs if n not in d.predict}
    rename = {n: "z" for n in link_inputs}
    rename.update({k: v for k, v in DISPLAY_NAMES.items() if k not in rename and k not in link_inputs})
    # a parameter named with a subscript (the multivariate normal's L_21) as its distribution writes it
    rename.update({n: d.spec.latex_name(n) for n in d.spec.param_names if "_" in n and n not in rename})
    return source_latex(kernel.source, event, size, rename)
