"""User-defined densities: ``symlik.custom(name, density=..., observed=..., params={...})``.

A density arrives as a SymPy expression or as a string. Strings are parsed
by ``symlik.model.parse`` (a whitelist over Python's syntax tree), never by eval,
``sympify`` or ``parse_expr``. The user's symbols are then replaced by
symlik's canonical ones (the observed value becomes ``y``; each parameter
gets the assumptions of its constraint), so that everything downstream
(derivation, the matcher's proof, rendering, kernels, Fisher information)
treats a custom density exactly like a catalog one. Nothing here looks at
the name: a Gaussian in disguise is identified by proof.

Before a Distribution is returned the density is checked: non-negative at a
grid of valid points, and integrating (or summing) to 1 over its support,
symbolically where SymPy can and numerically (mpmath) otherwise. With
``normalize=True`` it is divided by its derived normaliser instead, and the
derivation shows that constant.
"""

from __future__ import annotations

import builtins
import keyword
import math

import sympy as sp

from symlik.core import budget, expectation
from symlik.core.step import Step, reason
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.model import constraints as C
from symlik.model import normalisation
from symlik.model.distributions.base import Distribution, Param
from symlik.model.normalisation import DensityError
from symlik.model.parse import ParseError, parse_expression

SUPPORTS = {
    "real": C.reals,
    "positive": C.positive_reals,
    "nonnegative": C.Support("continuous", 0, None),
    "unit_interval": C.Support("continuous", 0, 1),
    "nonnegative_integer": C.Support("discrete", 0, None),
    "positive_integer": C.Support("discrete", 1, None),
    "binary": C.Support("discrete", 0, 1),
}

# The constraints a user may declare. open_unit_interval is internal; simplex
# parameters belong to event densities (a vector on the last axis), which a
# scalar formula cannot express.
USER_CONSTRAINTS = ("real", "positive", "unit_interval", "positive_integer", "nonnegative_integer", "simplex")


# Names the generated kernels already use: the array modules of every backend's namespace, the
# kernel functions themselves, and Python's builtins. A parameter with one of these names would
# shadow it in the generated code (a parameter called np breaks every NumPy kernel).
GENERATED_CODE_NAMES = frozenset(
    {"np", "numpy", "torch", "jax", "jnp", "cp", "cupy", "da", "dask", "numba", "math", "scipy", "special",
     "mpmath", "dense", "index", "chunk"}
) | frozenset(dir(builtins))


def _check_name(name, what, *, in_code: bool = True) -> str:
    """``name`` if it may be used; ``in_code``: it becomes a variable of the generated kernels."""
    # ASCII only: Python folds identifiers by NFKC, so a fullwidth "ｍ" and "m" would be two
    # parameters to symlik but one argument name in the generated code.
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier() or keyword.iskeyword(name):
        raise SymlikError(f"{what} must be an ASCII Python identifier; got {name!r}")
    if not in_code:
        if name.startswith("__"):
            raise SymlikError(f"{what} must not start with a double underscore; got {name!r}")
        return name
    if name.startswith("_"):
        raise SymlikError(f"{what} must not start with an underscore (the generated code's helpers do); got {name!r}")
    if name in GENERATED_CODE_NAMES:
        raise SymlikError(f"{what} {name!r} is a name the generated code uses; choose another name")
    return name


def _constraint(cname, pname, event: bool = False) -> C.Constraint:
    if isinstance(cname, C.Constraint):
        cname = cname.name
    if cname not in USER_CONSTRAINTS:
        raise UnknownNameError(f"constraint of parameter {pname}", cname, USER_CONSTRAINTS)
    if C.CONSTRAINTS[cname].event and not event:
        raise NotSupportedError(
            f"parameter {pname} is declared simplex, a probability vector over the event axis; give it as a "
            "SymPy IndexedBase in a density that is a Product over the components (strings cannot index)"
        )
    return C.CONSTRAINTS[cname]


def _support(value, param_names) -> C.Support:
    """A Support from a name, a SymPy set (Interval, Range, FiniteSet, Naturals0...),
    a Python range/set of integers, or a Support."""
    if value is None:
        return C.reals
    if isinstance(value, C.Support):
        return value
    if isinstance(value, str):
        if value not in SUPPORTS:
            raise UnknownNameError("support", value, SUPPORTS)
        return SUPPORTS[value]
    if isinstance(value, range):
        if value.step != 1 or len(value) == 0:
            raise SymlikError(f"support must be a non-empty range of consecutive integers; got {value!r}")
        return C.Support("discrete", value.start, value.stop - 1)
    if isinstance(value, (set, frozenset)):
        value = sp.FiniteSet(*value)
    if not isinstance(value, sp.Set):
        raise SymlikError(
            "support must be a name (" + ", ".join(SUPPORTS) + "), a SymPy Interval or set of integers, "
            f"or a range; got {type(value).__name__}"
        )

    def bound(b):
        if b in (sp.oo, -sp.oo):
            return None
        if isinstance(b, sp.Symbol):
            if b.name not in param_names:
                raise SymlikError(f"support bound {b} is not a declared parameter")
            return b.name
        if not b.is_number or not b.is_real:
            raise SymlikError(f"support bounds must be numbers or parameters; got {b}")
        return int(b) if b.is_Integer else float(b)

    if value == sp.Reals:
        return C.reals
    if value == sp.Naturals0:
        return SUPPORTS["nonnegative_integer"]
    if value == sp.Naturals:
        return SUPPORTS["positive_integer"]
    if value == sp.Integers:
        return C.Support("discrete")
    if isinstance(value, sp.Interval):
        return C.Support(
            "continuous", bound(value.start), bound(value.end),
            # an infinite end is open by SymPy's convention; Support marks it by None instead
            open_lower=bool(value.left_open) and value.start != -sp.oo,
            open_upper=bool(value.right_open) and value.end != sp.oo,
        )
    if isinstance(value, sp.Range):
        if value.step != 1:
            raise SymlikError(f"support must be consecutive integers; got {value}")
        return C.Support("discrete", bound(value.inf), bound(value.sup))
    if isinstance(value, sp.FiniteSet):
        items = sorted(value.args, key=lambda v: float(v)) if all(v.is_number for v in value.args) else None
        if not items or not all(v.is_Integer for v in items):
            raise SymlikError(f"a finite support must be a set of integers; got {value}")
        if [int(v) for v in items] != list(range(int(items[0]), int(items[-1]) + 1)):
            raise SymlikError(f"a finite support must be consecutive integers (e.g. {{0, 1, 2}}); got {value}")
        return C.Support("discrete", int(items[0]), int(items[-1]))
    raise SymlikError(f"support must be an interval or a set of integers; got {value}")


def support_from_text(text: str, param_names=()) -> C.Support:
    """A support typed as text (CLI, configuration): a name (``positive``), an interval
    (``[0, 1]``, ``(0, inf)``, ``[0, n]``) or consecutive integers (``{0, 1, 2}``,
    ``{0, ..., 10}``, ``{0, 1, ...}``). Bounds go through the whitelist parser."""
    text = text.strip()
    if text in SUPPORTS:
        return SUPPORTS[text]
    names = {n: sp.Symbol(n) for n in param_names}

    def bound(token):
        token = token.strip()
        value = parse_expression(token, names, what="support bound")
        if value in (sp.oo, -sp.oo):
            return None
        if isinstance(value, sp.Symbol):
            return value.name
        if not value.is_number or not value.is_real:
            raise ParseError(f"support bound {token!r} must be a number, inf or a parameter")
        return int(value) if value.is_Integer else float(value)

    if len(text) >= 2 and text[0] in "[(" and text[-1] in "])" and text.count(",") == 1:
        lo, hi = text[1:-1].split(",")
        lo, hi = bound(lo), bound(hi)
        return C.Support(
            "continuous", lo, hi, open_lower=text[0] == "(" and lo is not None, open_upper=text[-1] == ")" and hi is not None
        )
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        items = [t.strip() for t in text[1:-1].split(",")]
        if items and items[-1] == "...":  # {0, 1, ...}: unbounded above
            return C.Support("discrete", bound(items[0]), None)
        if len(items) == 3 and items[1] == "...":  # {0, ..., 10}
            return C.Support("discrete", bound(items[0]), bound(items[2]))
        values = [bound(t) for t in items]
        if any(not isinstance(v, int) for v in values) or sorted(values) != list(range(min(values), max(values) + 1)):
            raise SymlikError(f"a finite support must be consecutive integers, e.g. {{0, 1, 2}}; got {text}")
        return C.Support("discrete", min(values), max(values))
    raise UnknownNameError("support (or an interval like [0, inf) or a set like {0, ..., 10})", text, SUPPORTS)


def _declared(params, observed_name):
    """[(user key, name, constraint name)] in declaration order."""
    if not isinstance(params, dict) or not params:
        raise SymlikError("params must be a non-empty dict {parameter: constraint}")
    out = []
    for key, cname in params.items():
        if isinstance(key, sp.IndexedBase):
            pname = str(key.label)
        elif isinstance(key, sp.Symbol):
            pname = key.name
        elif isinstance(key, str):
            pname = key
        else:
            raise SymlikError(f"params keys must be names or SymPy Symbols; got {key!r}")
        _check_name(pname, "parameter name")
        if pname in ("y", observed_name):
            raise SymlikError(f"parameter {pname!r} clashes with the observed value")
        constraint = _constraint(cname, pname, event=isinstance(key, sp.IndexedBase))
        out.append((key, pname, constraint))
    names = [n for _, n, _ in out]
    if len(set(names)) != len(names):
        raise SymlikError(f"params names must be distinct; got {', '.join(names)}")
    return out


def custom(
    name: str,
    density=None,
    *,
    observed="y",
    params: dict,
    log_density=None,
    support=None,
    predict=None,
    normalize: bool = False,
    check: bool = True,
    time_budget=None,
) -> Distribution:
    """A Distribution from a density (or log-density) given as SymPy or as a string.

    Parameters
    ----------
    name : str
        A label for the derivation (any identifier; it is never used to identify the loss).
    density, log_density : sympy.Expr or str
        Exactly one of them, in terms of ``observed`` and the parameters. A string is
        parsed by a whitelist (numbers, the declared names, ``+ - * / **``, and
        functions such as exp, log, sqrt, abs, gamma, erf); it is never evaluated.
    observed : sympy.Symbol or str
        The observation (default ``"y"``); it is renamed ``y``.
    params : dict
        Parameter (Symbol or name) -> constraint: ``real``, ``positive``, ``unit_interval``,
        ``positive_integer``, ``nonnegative_integer``; or an IndexedBase -> ``simplex`` (or another
        constraint) for a vector parameter: then ``observed`` is the target's IndexedBase, the
        density a ``Product`` over k = 1..K, and the support one-hot vectors (checked numerically
        at K = 3: the density must sum to 1 over the one-hot targets).
    support : str, sympy.Set, range or set of ints, optional
        Where y lives: a name (``real`` [default], ``positive``, ``unit_interval``,
        ``nonnegative_integer``, ``positive_integer``, ``binary``), an interval
        (``sp.Interval(0, sp.oo)``; a bound may be a parameter), or consecutive integers
        (``sp.Range(0, 10)``, ``{0, 1, 2}``, ``sp.Naturals0``).
    predict : tuple of str, optional
        Default predicted parameters (default: the first one).
    normalize : bool
        Divide by the derived normaliser instead of requiring the density to integrate to 1.
    check : bool
        Check non-negativity and normalisation (default True).
    time_budget : float, optional
        Seconds that parsing and checking may take (default ``SYMLIK_TIME_BUDGET``, else 30;
        0 = no limit). The check runs in a child process that is stopped at the budget; then
        ``BudgetExceeded`` (a ``SymlikError``) names the stage that ran out.

    Examples
    --------
    >>> import symlik
    >>> spec = symlik.custom("mine", density="exp(-abs(y - m)/b)/(2*b)",
    ...                      params={"m": "real", "b": "positive"})
    >>> symlik.derive(spec).loss.name
    'mae'
    """
    with budget.time_budget(time_budget):
        return _custom(name, density, observed, params, log_density, support, predict, normalize, check)


def _custom(name, density, observed, params, log_density, support, predict, normalize, check) -> Distribution:
    _check_name(name, "name", in_code=False)
    if (density is None) == (log_density is None):
        raise SymlikError("give exactly one of density= or log_density=")
    what = "density" if density is not None else "log_density"
    expr = density if density is not None else log_density
    if isinstance(observed, sp.IndexedBase) or any(isinstance(k, sp.IndexedBase) for k in (params or {})):
        return _custom_event(name, expr, what, observed, params, support, predict, normalize, check)
    if isinstance(observed, sp.Symbol):
        observed_name = observed.name
    elif isinstance(observed, str):
        observed_name = _check_name(observed, "observed", in_code=False)  # replaced by y before any code
    else:
        raise SymlikError(f"observed must be a name or a SymPy Symbol; got {observed!r}")
    declared = _declared(params, observed_name)
    if not isinstance(normalize, bool) or not isinstance(check, bool):
        raise SymlikError("normalize and check must be True or False")

    if isinstance(expr, str):
        user_obs = observed if isinstance(observed, sp.Symbol) else sp.Symbol(observed_name, real=True)
        user_params = {pname: sp.Symbol(pname, **c.assumptions) for _, pname, c in declared}
        with budget.stage(f"parsing the {what}"):
            expr = parse_expression(expr, {observed_name: user_obs, **user_params}, what=what)
        keys = {pname: user_params[pname] for _, pname, _ in declared}
    elif isinstance(expr, sp.Expr):
        if not isinstance(observed, sp.Symbol):
            observed = next((s for s in expr.free_symbols if getattr(s, "name", None) == observed_name), sp.Symbol(observed_name))
        user_obs = observed
        keys = {}
        for key, pname, _ in declared:
            if isinstance(key, sp.Symbol):
                keys[pname] = key
            else:  # a name: the expression's symbol of that name, whatever its assumptions
                keys[pname] = next((s for s in expr.free_symbols if getattr(s, "name", None) == pname), sp.Symbol(pname))
    else:
        raise SymlikError(f"{what} must be a SymPy expression or a string; got {type(expr).__name__}")

    unknown = expr.free_symbols - set(keys.values()) - {user_obs}
    if unknown:
        raise SymlikError(f"the {what} uses undeclared symbol(s) {', '.join(sorted(map(str, unknown)))}")
    names = tuple(pname for _, pname, _ in declared)
    support_given = support is not None
    support = _support(support, names)
    if not expr.has(user_obs) and not any(isinstance(b, str) for b in (support.lower, support.upper)):
        raise SymlikError(f"the {what} does not depend on the observed value {observed_name}")
    spec = _distribution(
        name,
        params=tuple(Param(pname, c) for _, pname, c in declared),
        support=support,
        predict=_predict(predict, names),
        density_steps=normaliser_steps,
        __doc__=f"User-defined density {name}.",
    )
    mapping = {user_obs: spec.y, **{keys[n]: spec.symbol(n) for n in names}}
    canonical = expr.xreplace(mapping)
    dens = canonical if density is not None else sp.exp(canonical)
    normaliser = None
    if check:
        domain = expectation.domain_of(spec)
        constraints = {spec.symbol(n): spec.param(n).constraint for n in names}
        with budget.stage(f"checking the {what} (non-negative, integrating to 1)"):
            # in a child process, so that an integral that never ends can be stopped at the budget
            try:
                checked, normaliser = _bounded(normalisation.check, dens, spec.y, domain, constraints, normalize, what)
            except normalisation.DensityError as exc:
                if not support_given:  # the user may not know what the support defaulted to
                    raise normalisation.DensityError(f"{exc}. {DEFAULT_SUPPORT_NOTE}") from None
                raise
        if normaliser is not None:
            spec.unnormalised = dens
            spec.normaliser = normaliser
            canonical = checked if density is not None else canonical - sp.log(normaliser)
    elif normalize:
        raise SymlikError("normalize=True needs check=True (the normaliser is found by the check)")
    _attach(spec, canonical, log_form=density is None)
    return spec


# Said when a density without a given support fails its check: the default may be why.
DEFAULT_SUPPORT_NOTE = (
    "No support was given, so it is the real line (-oo, oo); give the support of y with "
    "support=... (e.g. 'positive', 'nonnegative_integer' or Interval(0, oo))"
)

EVENT_SUPPORTS = {"onehot": C.Support("onehot")}

# A few points on the simplex (K = 3) for the numerical normalisation check of event densities.
SIMPLEX_SAMPLES = ((0.2, 0.3, 0.5), (0.6, 0.1, 0.3), (0.25, 0.45, 0.3))


def _custom_event(name, expr, what, observed, params, support, predict, normalize, check) -> Distribution:
    """A density over one-hot vectors: a Product over the components k = 1..K of IndexedBase terms.

    ``observed`` is the IndexedBase of the target; vector parameters are IndexedBase
    keys of ``params`` (a ``simplex`` one holds class probabilities).
    """
    if isinstance(expr, str):
        raise NotSupportedError(f"a {what} over vectors must be a SymPy expression (strings cannot index)")
    if not isinstance(expr, sp.Expr):
        raise SymlikError(f"{what} must be a SymPy expression; got {type(expr).__name__}")
    if not isinstance(observed, sp.IndexedBase):
        raise SymlikError("with vector parameters, observed must be the target's IndexedBase (e.g. y = IndexedBase('y'))")
    if normalize:
        raise NotSupportedError("normalize=True is for scalar densities; write the normaliser of a vector density into it")
    support = "onehot" if support is None else support
    if support not in EVENT_SUPPORTS:
        raise UnknownNameError("support of a vector density", support, EVENT_SUPPORTS)
    declared = _declared(params, str(observed.label))
    limits = {lim for e in expr.atoms(sp.Product, sp.Sum) for lim in e.limits}
    if len(limits) != 1:
        raise SymlikError(f"the {what} must be a Product (or a Sum of logs) over one index k = 1..K; found {len(limits)} ranges")
    (k, lo, K), = limits
    if lo != 1 or not isinstance(K, sp.Symbol):
        raise SymlikError(f"the {what} must range over k = 1..K with K a symbol; got {k} = {lo}..{K}")
    names = tuple(pname for _, pname, _ in declared)
    bases = {str(key.label): key for key, _, _ in declared if isinstance(key, sp.IndexedBase)}
    scalars = {pname: key for key, pname, _ in declared if not isinstance(key, sp.IndexedBase)}
    scalars = {n: (key if isinstance(key, sp.Symbol) else next((s for s in expr.free_symbols if getattr(s, "name", None) == n), sp.Symbol(n))) for n, key in scalars.items()}
    labels = {b.label for b in expr.atoms(sp.IndexedBase)}
    allowed = {k, K, *scalars.values(), *labels}
    unknown = {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s not in allowed}
    foreign = {str(b.label) for b in expr.atoms(sp.IndexedBase)} - set(bases) - {str(observed.label)}
    if unknown or foreign:
        raise SymlikError(f"the {what} uses undeclared symbol(s) {', '.join(sorted(map(str, unknown | foreign)))}")
    spec = _distribution(
        name,
        params=tuple(Param(pname, c, event=pname in bases) for _, pname, c in declared),
        support=EVENT_SUPPORTS[support],
        predict=_predict(predict, names),
        event_size=K.name,
        __doc__=f"User-defined density {name} over one-hot vectors.",
    )
    mapping = {observed: spec._y_base(), k: spec.index, K: spec.K}
    mapping.update({b: spec.base(n) for n, b in bases.items()})
    mapping.update({scalars[n]: spec.symbol(n) for n in scalars})
    canonical = expr.xreplace(mapping)
    if check:
        _check_onehot(spec, canonical if what == "density" else sp.exp(canonical), what)
    _attach_event(spec, canonical, log_form=what == "log_density")
    return spec


def _bounded(fn, *args):
    """fn(*args) in a child process stopped at the time budget; here, without a budget or when
    this process is such a child already."""
    if math.isinf(budget.remaining()) or budget.stopped_from_outside():
        return fn(*args)
    return budget.run_in_child(fn, *args)


def _predict(predict, names: tuple) -> tuple:
    """The predicted parameters: a name or names among ``names`` (default: the first)."""
    predict = (predict,) if isinstance(predict, str) else tuple(predict or names[:1])
    for p in predict:
        if p not in names:
            raise UnknownNameError("parameter to predict", p, names)
    return predict


def _distribution(name: str, **attributes) -> Distribution:
    """An instance of a new Distribution subclass named after the user's density.

    The class exists nowhere pickle can look it up, so an instance pickles as the recipe that
    made it (``_rebuild``): how derive sends a user's density to the child process that bounds
    its time, under spawn too (symlik.core.budget)."""
    cls = type(f"Custom_{name}", (Distribution,), {"name": name, "title": name.replace("_", " "), "custom": True,
                                                   "__reduce__": _reduce, "_attributes": attributes, **attributes})
    return cls()


def _reduce(spec):
    # The density functions are closures (rebuilt by _attach from the attached expression); the
    # rest of the instance's state (normaliser, unnormalised form) travels as it is.
    state = {k: v for k, v in vars(spec).items() if k not in ("density", "log_density")}
    return _rebuild, (spec.name, type(spec)._attributes, state)


def _rebuild(name: str, attributes: dict, state: dict) -> Distribution:
    spec = _distribution(name, **attributes)
    vars(spec).update(state)
    canonical, log_form, event = state["_attached"]
    (_attach_event if event else _attach)(spec, canonical, log_form=log_form)
    return spec


def _check_onehot(spec, density, what) -> None:
    """Numerically, at K = 3 and a few points on the simplex: sum over the 3 one-hot targets is 1."""
    y = spec._y_base()
    at3 = density.xreplace({spec.K: 3}).doit()
    for i, row in enumerate(SIMPLEX_SAMPLES):
        values = {}
        for p in spec.effective_params():
            if p.event:
                row_ = row if p.constraint.event else (0.3, -0.7, 1.4)
                values.update({spec.base(p.name)[j + 1]: sp.Float(v) for j, v in enumerate(row_)})
            else:
                values[spec.symbol(p.name)] = sp.Float(p.constraint.samples[i])
        total = 0.0
        for cls_ in range(1, 4):
            onehot = {y[j]: sp.Integer(j == cls_) for j in range(1, 4)}
            value = complex(at3.xreplace(onehot).xreplace(values).evalf())
            if abs(value.imag) > 1e-12 or value.real < -1e-12:
                raise DensityError(f"the {what} is negative or not real at the one-hot target e_{cls_} (value {value:.6g})")
            total += value.real
        if abs(total - 1) > 1e-9:
            raise DensityError(f"the {what} sums to {total:.6g}, not 1, over the one-hot targets (K = 3, {row})")


def _attach_event(spec, canonical, *, log_form: bool) -> None:
    spec._attached = (canonical, log_form, True)  # what _rebuild needs
    def at(expr, y, theta):
        subs = {spec.symbol("y"): y} if y != spec.y else {}
        subs.update({spec.symbol(n): v for n, v in theta.items() if v != spec.symbol(n)})
        return expr.xreplace(subs)

    if log_form:
        spec.density = lambda y, **theta: sp.exp(at(canonical, y, theta))
        spec.log_density = lambda y, **theta: at(canonical, y, theta)
    else:
        spec.density = lambda y, **theta: at(canonical, y, theta)


def _attach(spec, canonical, *, log_form: bool) -> None:
    """Give ``spec`` its density (and log-density) as functions of (y, **theta)."""
    spec._attached = (canonical, log_form, False)  # what _rebuild needs

    def at(expr, y, theta):
        return expr.xreplace({spec.y: y, **{spec.symbol(n): v for n, v in theta.items()}})

    if log_form:
        spec.density = lambda y, **theta: sp.exp(at(canonical, y, theta))
        spec.log_density = lambda y, **theta: at(canonical, y, theta)
    else:
        spec.density = lambda y, **theta: at(canonical, y, theta)


def normaliser_steps(spec):
    """The extra derivation step for a density divided by its derived normaliser:
    a Step, as ``Distribution.density_steps`` returns."""
    Z = getattr(spec, "normaliser", None)
    if Z is None:
        return ()
    domain = expectation.domain_of(spec)
    y = spec.y
    f = spec.unnormalised
    total = sp.Sum(f, (y, domain.lower, domain.upper)) if domain.discrete else sp.Integral(f, (y, domain.lower, domain.upper))
    measure = "sums" if domain.discrete else "integrates"
    return (
        Step(
            "Normalise the density",
            Z,
            reason(
                f"The formula as given {measure} to this over its support, not to ", sp.S.One, ", so the density "
                "above is the formula divided by it (normalize=True). This constant enters the NLL but not the loss.",
            ),
            total,
        ),
    )
