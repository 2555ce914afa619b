"""Score, Hessian and Fisher information of a derivation, worked out symbolically.

For the predicted inputs theta (the pre-activations when there is a link),

    score    s(y) = d log p(y | theta) / d theta
    Hessian  H(y) = d^2 log p(y | theta) / d theta d theta^T
    Fisher   I    = E_y[-H(y)],  y ~ p(y | theta)

The expectation is an integral (continuous) or a sum (discrete) over the
support, taken term by term (one moment E[g(y)] per distinct g), so the
rendered derivation can list the moments it used. With a link the chain
rule is applied by differentiating in the network's output z directly:
bernoulli's logit gives I(z) = sigma(z)(1 - sigma(z)) = p(1 - p).

``symlik.compile(d, target="fisher")`` (and "score", "hessian") compiles any of
the three, like a loss, on every backend (``symlik.compiler.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symlik.analysis.moments import by_beta_substitution, by_power_substitution, moment
from symlik.core import expectation as E
from symlik.core.algebra import with_stand_ins
from symlik.core.errors import NotSupportedError
from symlik.core.functions import DensityOf, exact
from symlik.core.notation import form
from symlik.core.step import Step, listed, reason


@dataclass(frozen=True)
class Information:
    """The score (P x 1), Hessian and Fisher information (P x P) of one observation."""

    wrt: tuple  # the predicted inputs' SymPy symbols, in order
    score: sp.Matrix
    hessian: sp.Matrix
    fisher: sp.Matrix | None  # None when SymPy cannot take the expectation
    moments: dict = field(default_factory=dict)  # g(y) -> E[g(y)] used for the Fisher information
    parameters: dict = field(default_factory=dict)  # link input symbol -> (theta symbol, inverse-link expr)
    kinked: bool = False  # log p has a kink in the prediction: I computed as E[s s^T]
    rules: tuple = ()  # Steps deriving moments by a rule (symlik.analysis.moments), shown before I
    undefined: str = ""  # why the model itself gives no expectation to take, where it gives none


def _scalar_only(d, what):
    if d.spec.is_event:
        raise NotSupportedError(
            f"{what} of event distributions ({d.spec.label}) is not derived yet; scalar distributions only"
        )


def _closed_form_only(d):
    # A spec may say why its expectation has no closed form (a mixture's E[-H] is an integral of
    # ratios of sums of densities): declined at once, rather than simplifying P^2 derivatives first.
    why = getattr(d.spec, "no_closed_form_information", "")
    if why:
        raise NotSupportedError(f"the score, Hessian and Fisher information of {d.spec.label} are not derived: {why}")


def _wrt(d):
    return tuple(d.symbols[n] for n in d.predicted_inputs)


def _link_parameters(d) -> dict:
    """{z symbol: (theta symbol, g^-1(z))} for each predicted input behind a link."""
    spec = d.spec
    out = {}
    for name, link_name in d.links.items():
        link = spec.link(link_name, name)
        z = d.symbols[link.input_name(name)]
        out[z] = (spec.symbol(name), link.inverse(z))
    return out


def density_in_inputs(d) -> sp.Expr:
    """p(y | .) written in the derivation's inputs (the link applied)."""
    dens = d.spec.density_expr()
    for z, (theta, inverse) in _link_parameters(d).items():
        dens = dens.xreplace({theta: inverse})
    return dens


def _negatives(expr) -> int:
    return sum(1 for t in sp.Add.make_args(expr) if t.could_extract_minus_sign())


def _nicer_negated(base) -> bool:
    """Is -base the more readable way round? (1 - p) rather than (p - 1)."""
    neg, pos = _negatives(base), _negatives(-base)
    if pos != neg:
        return pos < neg
    const = [t for t in sp.Add.make_args(base) if t.is_number]
    return bool(const) and const[0].is_negative


def _simplify_branches(expr) -> sp.Expr:
    """simplify, with each Piecewise's branches simplified and its conditions left as written.
    SymPy's simplify of a Piecewise also simplifies every condition, proving each comparison
    by ``equals``: on the five branches of a censored Weibull's Hessian that ran for minutes."""
    if not expr.has(sp.Piecewise):
        return sp.simplify(expr)
    return with_stand_ins(expr, lambda e: isinstance(e, sp.Piecewise), sp.simplify,
                          lambda p: sp.Piecewise(*[(sp.simplify(value), condition) for value, condition in p.args]))


def tidy(expr, factor: bool = True) -> sp.Expr:
    """Simplify for display (exactly equal): write (1 - p) rather than -(p - 1).

    -1/(p (p - 1)) becomes 1/(p (1 - p)) and -(p - y)/... becomes (y - p)/...;
    every flip is counted in the sign, so the value never changes.
    """
    expr = _simplify_branches(expr)
    if expr.has(sp.Sum, sp.Piecewise) or not expr.free_symbols:
        return expr
    if factor:
        expr = sp.factor(expr)
    numer, denom = sp.fraction(expr)
    coeff = sp.S.One
    parts = {"numer": [], "denom": []}
    for side, part in (("numer", numer), ("denom", denom)):
        for f in sp.Mul.make_args(part):
            if f.is_Number:
                coeff = coeff * f if side == "numer" else coeff / f
                continue
            base, exponent = f.as_base_exp()
            if isinstance(base, sp.Add) and exponent.is_Integer and _nicer_negated(base):
                f = (-base) ** exponent
                coeff *= (-1) ** int(exponent)
            parts[side].append(f)
    if coeff.is_negative:
        # absorb the sign into a numerator factor that reads as well either way (p - y -> y - p)
        for idx, f in enumerate(parts["numer"]):
            if isinstance(f, sp.Add) and _negatives(f) == _negatives(-f) and not any(t.is_number for t in f.args):
                parts["numer"][idx], coeff = -f, -coeff
                break
    return coeff * sp.Mul(*parts["numer"]) / sp.Mul(*parts["denom"])


def _tidy(expr):
    return tidy(expr)


def _tidy_derivative(expr):
    """Tidy a derivative, unless simplifying would trade sign(u) for a Piecewise."""
    tidied = tidy(expr, factor=False)
    return expr if tidied.has(sp.Piecewise) and not expr.has(sp.Piecewise) else tidied


_CACHE: dict = {}


# Functions whose presence in log p means a kink in the prediction: there the
# Hessian misses the delta functions, and E[s s^T] is the safe form.
_KINKS = (sp.Piecewise, sp.Heaviside, sp.Max, sp.Min)


def information(d) -> Information:
    """Score, Hessian and Fisher information for ``d``'s predicted inputs.

    The Fisher information is None where SymPy cannot take the expectation
    (or does not finish within ``symlik.core.expectation``'s time budget).
    """
    _scalar_only(d, "the score, Hessian and Fisher information")
    _closed_form_only(d)
    key = id(d)
    if key in _CACHE and _CACHE[key][0] is d:
        return _CACHE[key][1]
    wrt = _wrt(d)
    log_p = -d.nll
    score = sp.Matrix([_tidy_derivative(sp.diff(log_p, t)) for t in wrt])
    hessian = sp.Matrix(len(wrt), len(wrt), lambda i, j: _tidy_derivative(sp.diff(log_p, wrt[i], wrt[j])))
    moments: dict = {}
    rules: list = []
    kinked = log_p.has(*_KINKS)
    # A censored observation's Fisher information is an expectation over the censoring too, which the
    # model leaves unspecified: the spec says so, and no integral is started (each ran out a 20-s budget)
    undefined = getattr(d.spec, "no_expected_information", "")
    if undefined:
        fisher = None
    elif kinked:  # I = E[s s^T]: equal to E[-H] for a smooth density, and right at a kink
        outer = sp.Matrix(len(wrt), len(wrt), lambda i, j: score[i] * score[j])
        fisher = _expected(outer, d, moments, rules)
    else:
        fisher = _expected(-hessian, d, moments, rules)
    result = Information(wrt, score, hessian, fisher, moments, _link_parameters(d), kinked, tuple(rules), undefined)
    _CACHE[key] = (d, result)
    return result


def _known(term, y, known: dict):
    """E[term] when term is c * g(y) with E[g(y)] known from the distribution, else None."""
    for g, value in known.items():
        coefficient = sp.simplify(term / g)
        if not coefficient.has(y):
            return coefficient * value
    return None


def _expected(matrix, d, moments, rules) -> sp.Matrix | None:
    y = d.y
    domain = E.domain_of(d.spec)
    density = density_in_inputs(d)
    known = {} if d.link else d.spec.known_expectations(y, **{p.name: d.spec.symbol(p.name) for p in d.spec.params})
    entries = {}
    in_theta = dict(d.spec.known_expectations(y, **{name: d.spec.symbol(name) for name in d.spec.param_names}))
    for i in range(matrix.rows):
        for j in range(i, matrix.cols):
            term = exact(matrix[i, j]) if matrix[i, j].has(y) else matrix[i, j]
            value = _known(term, y, known) if term.has(y) else None
            if value is None and term.has(y):
                value = _by_moment_rules(term, d, domain, moments, rules, in_theta)
            if value is None:
                value = E.expectation(term, y, density, domain, cache=moments) if term.has(y) else term
            if value is None:
                return None
            entries[i, j] = entries[j, i] = _tidy(value)
    return sp.Matrix(matrix.rows, matrix.cols, lambda i, j: entries[i, j])


def _by_moment_rules(term, d, domain, moments, rules, in_theta) -> sp.Expr | None:
    """E[term] one moment E[g(y)] at a time, each by a rule of ``symlik.analysis.moments`` (the
    score identity gives the beta's E[log y] = psi(a) - psi(a + b) without an integral), with
    integration as those rules' last resort. The moments are taken in the distribution's own
    parameters and then written in the link's input (theta = g^-1(z)), since E[g(y)] does not
    depend on how theta is predicted; ``in_theta`` (g(y) -> E[g(y)] in the parameters) is shared
    between the entries of one matrix, so that each rule is applied and shown once.

    When a g(y) involves a parameter (y - mu, say), the whole term is written in the parameters
    and only the substitution t = C y^k and the Beta integrals are tried on it; failing that
    (None), the caller integrates the whole term at once."""
    y, spec = d.y, d.spec
    if domain.masses:  # the substitutions below are for a density: a mass at a bound goes to E.expectation
        return None
    parts = E.moments(term, y)
    if any(g.has(sp.DiracDelta) for g in parts):
        return None
    values = {name: spec.symbol(name) for name in spec.param_names}
    to_inputs = {theta: inverse for theta, inverse in _link_parameters(d).values()}
    if any(g.free_symbols - {y} for g in parts):
        # in the parameters (sigma rather than e^z), where location and scale can be taken out
        in_params = term
        for theta, inverse in to_inputs.items():
            in_params = in_params.subs(inverse, theta)
        if in_params.has(*_link_parameters(d)):
            return None
        in_params = sp.factor(sp.cancel(in_params))  # (y - mu)^2 again, not y^2 - 2 mu y + mu^2
        density = spec.density_expr()
        whole = by_power_substitution(in_params, y, density, domain, rules)
        if whole is None:
            whole = by_beta_substitution(in_params, y, density, domain, rules)
        return None if whole is None else sp.simplify(exact(whole.xreplace(to_inputs)))
    density = spec.density_expr()
    total = sp.S.Zero
    for g, coefficient in parts.items():
        if g == 1:
            total += coefficient
            continue
        value = moment(spec, values, g, y, density, domain, in_theta, rules, depth=0)
        if value is None:
            return None
        value = sp.simplify(exact(value.xreplace(to_inputs)))  # in the Hessian's own (elementary) terms
        moments[g] = value
        total += coefficient * value
    return sp.simplify(total)


def score(d) -> sp.Matrix:
    return information(d).score


def hessian(d) -> sp.Matrix:
    return information(d).hessian


def fisher(d) -> sp.Matrix:
    undefined = getattr(d.spec, "no_expected_information", "")
    if undefined:  # said before the score and Hessian are simplified, which the answer does not need
        raise NotSupportedError(f"the Fisher information of {d.spec.label} is not derived: {undefined}")
    info = information(d)
    if info.fisher is None:
        raise NotSupportedError(f"SymPy cannot take the expectation over y for the Fisher information of {d.spec.label}")
    return info.fisher


def in_parameters(d, expr) -> sp.Expr:
    """Rewrite an expression in the link input z back in the parameter: sigma(z) -> p, e^z -> lambda."""
    for z, (theta, inverse) in _link_parameters(d).items():
        expr = expr.subs(inverse, theta)
        if expr.has(z):
            return None
    return tidy(expr)


# ---------------------------------------------------------------------------
# Rendering: extra steps appended after the derivation's own.
# ---------------------------------------------------------------------------


def _prediction(d) -> sp.Symbol:
    """The prediction the steps differentiate in, as the left-hand sides name it: z for a
    link input, the parameter's own symbol for one parameter, theta for several."""
    wrt = _wrt(d)
    if len(wrt) > 1:
        return sp.Symbol("theta")
    return _Z if wrt[0] in set(_link_parameters(d)) else sp.Symbol(str(wrt[0]))


# The network's output, as the Fisher information's reason names it.
_Z = sp.Symbol("z")


def _shown(matrix):
    return matrix[0, 0] if matrix.shape == (1, 1) else matrix


def information_steps(d) -> list:
    """Steps: the score, the Hessian, the Fisher information (and, with a link, in the parameter)."""
    info = information(d)
    theta = _prediction(d)
    over = (" over ", form("grouped", *info.wrt)) if len(info.wrt) > 1 else ()
    model = form("distributed", d.y, DensityOf(d.y, *info.wrt))  # y drawn from the model at the prediction
    steps = [
        Step(
            "The score",
            _shown(info.score),
            reason(
                "The derivative of the log-density in the prediction", *over, "; its mean under the model is zero, "
                "and it is the per-observation gradient a network receives (with the sign flipped).",
            ),
            form("score", theta),
        ),
        Step(
            "The Hessian",
            _shown(info.hessian),
            reason("Differentiate once more: the curvature of the log-density in the prediction."),
            form("hessian", theta),
        ),
    ]
    if info.fisher is None:
        steps.append(
            Step(
                "The Fisher information",
                sp.S.NaN,
                reason(f"The Fisher information is not derived: {info.undefined}.") if info.undefined else reason(
                    "SymPy could not take the expectation of the negative Hessian over ", d.y, ", so the Fisher "
                    "information is left undone here.",
                ),
                form("fisher", theta),
            )
        )
        return steps
    domain = E.domain_of(d.spec)
    measure = "by summing over the support" if domain.discrete else "by integrating over the support"
    if info.rules:  # some moments came from the steps above, not from an integral or a sum
        measure = "with the expectations found above"
    used = [sp.Eq(form("moment", g), v, evaluate=False) for g, v in info.moments.items() if g != 1]
    if used:
        moments_text = reason(" term by term; the moments used: ", *listed(used), ".")
    elif any(m.has(d.y) for m in info.hessian) or info.kinked:
        moments_text = reason(".")
    else:
        moments_text = reason("; here it does not depend on ", d.y, ".")
    if info.kinked:
        why = reason(
            "The log-density has a kink in the prediction, where the Hessian hides a delta function, so the "
            "information is taken as the expected squared score, ", model, f", {measure}", moments_text,
        )
        lhs = sp.Eq(form("fisher", theta), form("expected_squared_score", theta), evaluate=False)
    else:
        why = reason("The expected negative Hessian, ", model, f", {measure}", moments_text)
        lhs = sp.Eq(form("fisher", theta), form("expected_neg_hessian", theta), evaluate=False)
    steps += list(info.rules)  # the moments found without integrating, each by its rule
    steps.append(Step("The Fisher information", _shown(info.fisher), why, lhs))
    params = info.parameters
    if len(params) == 1:
        rewritten = in_parameters(d, _shown(info.fisher))
        if rewritten is not None:
            (z, (param, inverse)), = params.items()
            steps.append(
                Step(
                    f"The Fisher information in terms of {param}",
                    rewritten,
                    reason(
                        "With ", sp.Eq(param, inverse), ": the information about the network's output ", _Z,
                        " is the information about ", param, " times ", form("squared_sensitivity", param, _Z), ".",
                    ),
                    form("fisher", _Z),
                )
            )
    return steps
