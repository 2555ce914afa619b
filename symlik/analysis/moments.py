"""Moments E[g(y)] under a catalog density, each derived by a rule that is shown as a step.

SymPy's integrator misses many moments a textbook writes down at once (the beta's E[log y],
the lognormal's E[log y], the Weibull's E[(y/lambda)^k log(y/lambda)^2]), and where it misses
it may spend its whole time budget first. The rules below derive such a moment without a
general integral, each proven and shown as a ``Step``:

- the Poisson kernel (Cauchy: E[log((y - a)^2 + b^2)] is a harmonic function's value);
- the score identity (differentiate the normalisation under the integral sign);
- a shifted density (y p(y | a, b) = c p(y | a + 1, b));
- substitutions t = exp(a y + c), y = exp(u) and t = c y^k, which turn the integral into
  Euler's Gamma integral and its derivatives, or into a Gaussian one.

Integration over the support (``symlik.core.expectation``) is the last resort. The KL
divergence (``divergence``) and the Fisher information (``information``) both use them.
"""

from __future__ import annotations

import sympy as sp

from symlik.core import expectation as E
from symlik.core.algebra import expand_logs, log_of
from symlik.core.notation import form, term
from symlik.core.step import Step, listed, reason


def log_density(spec, y, values):
    log = spec.log_density(y, **values)
    return expand_logs(log) if log is not None else log_of(spec.density(y, **values))



def expectation_by_moments(p, p_vals, ratio, y, density, domain, moments, rules):
    """E_p[ratio] one moment E_p[g(y)] at a time: each by the score identity (below) or, failing
    that, by integration (or summation) over the support; None if some moment is out of reach."""
    total = sp.S.Zero
    for g, coeff in E.moments(ratio, y).items():
        value = sp.S.One if g == 1 else moment(p, p_vals, g, y, density, domain, moments, rules, depth=0)
        if value is None:
            return None
        total += coeff * value
    return sp.simplify(total)


def moment(p, p_vals, g, y, density, domain, moments, rules, depth):
    if g in moments:
        return moments[g]
    if domain.masses:  # the rules below hold for a density; with a mass at a bound, integrate (and add it)
        value = E.total(g * density, y, domain)
        if value is not None:
            moments[g] = sp.simplify(value)
        return moments.get(g)
    value = _by_poisson_kernel(g, y, density, domain, rules)
    if value is None and depth == 0:
        value = _by_score_system(p, p_vals, g, y, moments, rules)
    if value is None and depth < 2:
        value = _by_score(p, p_vals, g, y, density, domain, moments, rules, depth)
    if value is None:
        value = _by_shift(p, p_vals, g, y, density, rules)
    if value is None:
        value = _by_exponential_substitution(g, y, density, domain, rules)
    if value is None:
        value = _by_log_substitution(g, y, density, domain, rules)
    if value is None:
        value = by_power_substitution(g, y, density, domain, rules)
    if value is None:
        value = E.total(g * density, y, domain)
    if value is not None:
        moments[g] = sp.simplify(value)
    return moments.get(g)


def _quadratic(expr, y):
    """(leading coefficient, centre, half-width) when expr = A ((y - c)^2 + w^2) with A, w > 0, else None."""
    expr = sp.expand(expr)
    if not expr.is_polynomial(y) or sp.degree(expr, y) != 2:
        return None
    a2, a1, a0 = (sp.expand(expr).coeff(y, k) for k in (2, 1, 0))
    centre = sp.simplify(-a1 / (2 * a2))
    width = sp.sqrt(sp.factor(sp.simplify(a0 / a2 - centre**2)))
    if not (a2.is_positive and width.is_positive):
        return None
    return a2, centre, sp.simplify(width)


def _by_poisson_kernel(g, y, density, domain, rules):
    """E[log((y - a)^2 + b^2)] under a Cauchy density on the real line, with b > 0.

    The Cauchy density s / (pi ((y - m)^2 + s^2)) is the Poisson kernel of the upper half-plane at
    m + i s: for h harmonic there (and growing no faster than log |y|), E[h(y)] = h(m + i s).
    log((y - a)^2 + b^2) = 2 log |y - (a - i b)| is harmonic in the upper half-plane, a - i b lying
    below it, so E[log((y - a)^2 + b^2)] = log((m - a)^2 + (s + b)^2): no integral is taken.
    """
    if not isinstance(g, sp.log) or domain.lower != -sp.oo or domain.upper != sp.oo:
        return None
    numer, denom = sp.fraction(sp.together(density))
    kernel, inner = _quadratic(denom, y), _quadratic(g.args[0], y)
    if kernel is None or inner is None or numer.has(y):
        return None
    lead, m, s = kernel
    if sp.simplify(numer / lead - s / sp.pi) != 0:
        return None
    c, a, b = inner
    value = sp.log(c) + sp.log((m - a) ** 2 + (s + b) ** 2)
    rules.append(
        Step(
            f"The moment of {sp.sstr(g)}, by the Poisson kernel",
            value,
            reason(
                "The density is ", sp.Eq(density, s / (sp.pi * ((y - m) ** 2 + s**2))), ", the Poisson kernel of the upper "
                "half-plane at ", m + sp.I * s, ": for a function harmonic there, its expectation is its value at that point. ",
                sp.Eq(g, sp.log(c) + sp.log((y - a) ** 2 + b**2), evaluate=False), ", and ", sp.log((y - a) ** 2 + b**2),
                " is twice the log of the distance from ", y, " to ", a - sp.I * b, ", which lies below the real line: "
                "harmonic in the upper half-plane. Its value at ", m + sp.I * s, " is the moment.",
            ),
            form("moment", g),
        )
    )
    return value


def _by_shift(p, p_vals, g, y, density, rules):
    """E[g(y)] when g(y) p(y | theta) = c p(y | theta + j) with c free of y: the shifted density
    integrates to 1 over the same support, so E[g] = c (for the beta, y p(y | a, b) =
    a / (a + b) p(y | a + 1, b))."""
    for name, theta in p_vals.items():
        if not isinstance(theta, sp.Symbol) or name in (p.support.lower, p.support.upper):
            continue
        for j in (1, 2):
            shifted = p.density(y, **{**p_vals, name: theta + j})
            c = sp.simplify(sp.gammasimp(sp.powsimp(g * density / shifted, force=True)))
            if c.has(y) or c == 0:
                continue
            rules.append(
                Step(
                    f"The moment of {sp.sstr(g)}, from a shifted density",
                    c,
                    reason(
                        g, " times the density with ", theta, " is ", c, " times the density with ", sp.Eq(theta, theta + j),
                        ", which also integrates to ", sp.S.One, " over the support.",
                    ),
                    form("moment", g),
                )
            )
            return c
    return None


def _by_exponential_substitution(g, y, density, domain, rules):
    """E[g(y)] over the real line for a density in exp(a y + c) (the Gumbel's double exponential):
    substitute t = exp(a y + c), so y = (log t - c) / a and dy = dt / (|a| t) over t in (0, inf),
    where the integrals are gamma functions and their derivatives (Gumbel moments)."""
    if domain.discrete or domain.lower != -sp.oo or domain.upper != sp.oo:
        return None
    exps = density.atoms(sp.exp)
    linear = {e for e in exps if e.args[0].has(y) and not sp.diff(e.args[0], y).has(y)}
    inner = sorted((e for e in linear if any(o != e and o.has(e) for o in exps)), key=sp.default_sort_key)
    t = sp.Symbol("t", positive=True)
    for e in inner:
        a = sp.diff(e.args[0], y)
        c = sp.simplify(e.args[0] - a * y)
        if a.is_positive is None and a.is_negative is None:
            continue
        back = (sp.log(t) - c) / a
        integrand = sp.powsimp(sp.expand_power_exp(sp.expand((g * density).xreplace({y: back}) / (sp.Abs(a) * t))), force=True)
        value = _euler_integral(integrand, t)
        if value is None:
            continue
        value = sp.simplify(value)
        rules.append(_euler_step(f"The moment of {sp.sstr(g)}, by substituting t = {sp.sstr(e)}", g, value,
                                 reason(sp.Eq(t, e), ": ", sp.Eq(y, back), " and the real line maps onto ",
                                        sp.Interval.open(0, sp.oo), ".")))
        return value
    return None


def _by_log_substitution(g, y, density, domain, rules):
    """E[g(y)] over (0, inf) for a density in log y (the lognormal): substitute y = e^u, dy = e^u du,
    which maps (0, inf) onto the real line and log y onto u."""
    if domain.discrete or domain.lower != 0 or domain.upper != sp.oo or not density.has(sp.log(y)):
        return None
    u = sp.Symbol("u", real=True)
    integrand = sp.expand_log(sp.powsimp((g * density).xreplace({y: sp.exp(u)}) * sp.exp(u), force=True), force=True)
    value = E.integrate(sp.simplify(integrand), u, -sp.oo, sp.oo)
    if value is None:
        return None
    rules.append(
        Step(
            f"The moment of {sp.sstr(g)}, by substituting y = exp(u)",
            value,
            reason(
                "Substitute ", sp.Eq(y, sp.exp(u)), ": ", sp.Eq(sp.log(y), u), ", the element of length is ", sp.exp(u),
                " du, and ", sp.Interval.open(0, sp.oo), " maps onto the real line.",
            ),
            form("moment", g),
        )
    )
    return value


def by_power_substitution(g, y, density, domain, rules):
    """E[g(y)] over (0, inf) for a density in exp(-C y^k) with C, k > 0 (the Weibull's
    exp(-(y/lambda)^k)): substitute t = C y^k, so y = (t/C)^(1/k), which maps (0, inf) onto
    itself; each term is then Euler's integral of t^s log(t)^n e^(-t). ``g`` may involve the
    parameters (the Weibull's (y/lambda)^k log(y/lambda)^2)."""
    if domain.discrete or domain.lower != 0 or domain.upper != sp.oo:
        return None
    t = sp.Symbol("t", positive=True)
    for e in sorted(density.atoms(sp.exp), key=sp.default_sort_key):
        power = -e.args[0]
        if not power.has(y):
            continue
        k = sp.simplify(y * sp.diff(sp.expand_log(sp.log(power), force=True), y))  # d log T / d log y
        C = sp.powsimp(sp.expand_power_base(power / y**k, force=True), force=True)
        if k.has(y) or C.has(y) or not (k.is_positive and C.is_positive):
            continue
        back = (t / C) ** (1 / k)
        integrand = (g * density).xreplace({y: back}) * sp.diff(back, t)
        integrand = sp.powsimp(sp.expand_power_base(sp.expand_log(integrand, force=True), force=True), force=True)
        value = _euler_integral(integrand, t)
        if value is None:
            continue
        rules.append(_euler_step("An expectation by a power substitution", g, value,
                                 reason(sp.Eq(t, power), ": ", sp.Eq(y, back), ", and ", sp.Interval.open(0, sp.oo),
                                        " maps onto itself.")))
        return value
    return None


def _is_quadratic(expr, y) -> bool:
    return expr.has(y) and expr.is_polynomial(y) and sp.degree(expr, y) == 2


def by_beta_substitution(g, y, density, domain, rules):
    """E[g(y)] over the real line for an integrand that is, after location and scale are taken
    out, a sum of terms K y^j (a + c y^2)^(-s) (the Student-t's (1 + y^2/nu)^(-(nu + 1)/2) with
    its score's rational functions of y^2). Odd j integrate to zero by symmetry; for even
    j = 2m, y = sqrt(a/c) tan(theta) turns each into the Beta integral
    integral of y^(2m) (a + c y^2)^(-s) dy = a^(m + 1/2 - s) c^(-m - 1/2) B(m + 1/2, s - m - 1/2),
    which converges when s - m - 1/2 > 0 (proven from the assumptions, else None).
    SymPy's integrator leaves these as Meijer G functions at 1 that it cannot reduce."""
    if domain.discrete or domain.lower != -sp.oo or domain.upper != sp.oo:
        return None
    integrand = g * density
    if not any(_is_quadratic(b, y) for b in (p.base for p in integrand.atoms(sp.Pow))):
        return None  # no (a + c y^2)^(-s) before taking location and scale out, so none after
    standard = E.standardise(integrand, y, domain.lower, domain.upper)
    factor, inner = standard[:2] if standard is not None else (sp.S.One, integrand)  # the real line stays the real line
    quadratics = {b for b in (p.base for p in inner.atoms(sp.Pow)) if _is_quadratic(b, y)}
    for q in sorted(quadratics, key=sp.default_sort_key):
        c, b1, a = (sp.expand(q).coeff(y, k) for k in (2, 1, 0))
        if b1 != 0 or not (a.is_positive and c.is_positive):
            continue
        total = _beta_integrals(inner, y, q, a, c)
        if total is None:
            continue
        value = sp.simplify(sp.expand_func(factor * total))  # Gamma(x + 1) = x Gamma(x): the ratios cancel
        title = "Expectations by Beta integrals"
        if not any(step.title == title for step in rules):  # the rule once, with its general formula
            K, j, s_, m_, u = sp.symbols("K j s m u")
            integral = form("real_line_integral", K * y ** (2 * m_) * q ** (-s_))
            formula = K * a ** (m_ + sp.S.Half - s_) * c ** (-m_ - sp.S.Half) * sp.beta(m_ + sp.S.Half, s_ - m_ - sp.S.Half)
            rules.append(
                Step(
                    title,
                    formula,
                    reason(
                        "After taking out location and scale, each term of the expectation is ", K * y**j * q ** (-s_),
                        ": odd ", j, " integrate to zero by symmetry, and for ", sp.Eq(j, 2 * m_), " the substitution ",
                        sp.Eq(y, sp.sqrt(a / c) * sp.tan(u)), " gives Euler's Beta integral ", term("beta_integral"), ".",
                    ),
                    integral,
                )
            )
        return value
    return None


def _beta_integrals(integrand, y, q, a, c):
    """The integral over the real line of ``integrand``, a sum of products of a polynomial in y
    and powers of q (or of multiples of q), as a sum of Beta integrals; None when a factor has
    another shape or a term's integral may diverge."""
    total = sp.S.Zero
    for item in sp.Add.make_args(integrand):
        K, poly, exponent = sp.S.One, sp.S.One, sp.S.Zero
        for f in sp.Mul.make_args(item):
            base, e = f.as_base_exp()
            if not f.has(y):
                K *= f
            elif f.is_polynomial(y):
                poly *= f
            elif not sp.simplify(base / q).has(y):
                K *= sp.simplify(base / q) ** e  # (1 + y^2/nu)^e = (nu + y^2)^e nu^(-e)
                exponent += e
            else:
                return None
        s_ = -exponent
        for (j,), coefficient in sp.Poly(sp.expand(poly), y).terms():
            if (s_ - sp.Rational(j + 1, 2)).is_positive is not True:
                return None  # |y|^j q^(-s) may not be integrable
            if j % 2:
                continue  # odd and integrable: zero by symmetry
            m = j // 2
            beta = sp.gamma(m + sp.S.Half) * sp.gamma(s_ - m - sp.S.Half) / sp.gamma(s_)
            total += K * coefficient * a ** (m + sp.S.Half - s_) * c ** (-m - sp.S.Half) * beta
    return total


def _euler_step(title, g, value, substitution) -> Step:
    """The step of a substitution that leaves Euler's integral and its derivatives in s."""
    return Step(
        title,
        value,
        reason(
            "Substitute ", substitution, " Each term is then ", term("euler_integral_derivative"), ", Euler's integral ",
            term("euler_integral"), " differentiated n times in s under the integral sign.",
        ),
        form("moment", g),
    )


def _euler_integral(integrand, t):
    """The integral over t in (0, inf) of a sum of terms K t^s log(t)^n e^(-t): each is the n-th
    derivative in s of Euler's integral Gamma(s + 1) = integral of t^s e^(-t) dt (differentiation
    under the integral sign); None when a term is not of that form."""
    s = sp.Dummy("s")
    total = sp.S.Zero
    def split_exp(e):  # exp(A + c log t) = t^c exp(A)
        parts = sp.Add.make_args(sp.expand(e.args[0]))
        logs = [x for x in parts if (x / sp.log(t)).is_number is not None and not (x / sp.log(t)).has(t)]
        return sp.Mul(*(t ** (x / sp.log(t)) for x in logs)) * sp.exp(sp.Add(*(x for x in parts if x not in logs)))

    expanded = sp.expand(sp.expand_log(integrand, force=True))
    expanded = sp.expand(expanded.replace(lambda e: isinstance(e, sp.exp) and e.has(sp.log(t)), split_exp))
    for item in sp.Add.make_args(expanded):
        factors = sp.Mul.make_args(item)
        n = sum(int(f.exp) if isinstance(f, sp.Pow) and f.base == sp.log(t) else 1 if f == sp.log(t) else 0 for f in factors)
        rest = sp.powsimp(item / sp.log(t) ** n, force=True)
        if rest.has(sp.log(t)):
            return None
        exponent = sp.simplify(t * sp.diff(sp.expand_log(sp.log(rest), force=True), t) + t)  # rest = K t^s e^(-t)
        if exponent.has(t):
            return None
        K = sp.simplify(sp.powsimp(rest / (t**exponent * sp.exp(-t)), force=True))
        if K.has(t):
            return None
        total += K * sp.diff(sp.gamma(s + 1), s, n).subs(s, exponent)
    return sp.simplify(total)


def _scores(p, p_vals, y):
    """(theta, d log p / d theta) for each parameter the support does not depend on."""
    log_p = log_density(p, y, p_vals)
    for name, theta in p_vals.items():
        if isinstance(theta, sp.Symbol) and name not in (p.support.lower, p.support.upper):
            yield theta, sp.expand(expand_logs(sp.diff(log_p, theta)))


def _by_score_system(p, p_vals, g, y, moments, rules):
    """E[g(y)] from the score identities of all the parameters at once, as a linear system.

    Each parameter theta gives E[d log p / d theta] = 0, a linear equation in the moments of
    the y-terms of its score. The beta in mean and precision needs two: d/d mu gives
    phi (E[log y] - E[log(1 - y)]) = phi (psi(mu phi) - psi((1 - mu) phi)), and d/d phi a second
    combination, which together fix E[log y] and E[log(1 - y)]. Solved by Gaussian
    elimination (pure algebra: no integral is attempted); None unless the system fixes E[g].
    """
    equations, unknowns, shown = [], {}, []
    for theta, score in _scores(p, p_vals, y):
        parts = E.moments(score, y)
        if any(c.has(y) for c in parts.values()):
            continue
        for h in parts:
            if h != 1 and h not in moments and h not in unknowns:
                unknowns[h] = sp.Dummy("m")
        equations.append(sum(c * (1 if h == 1 else moments.get(h, unknowns.get(h))) for h, c in parts.items()))
        shown.append(sp.Eq(form("partial", term("log_p"), theta), score))
    if g not in unknowns or not equations:
        return None
    discrete = p.support.kind == "discrete"
    solutions = sp.linsolve(equations, list(unknowns.values()))
    if not isinstance(solutions, sp.FiniteSet) or len(solutions) != 1:
        return None
    (solution,) = solutions
    found = {h: sp.simplify(v) for (h, m), v in zip(unknowns.items(), solution) if not v.free_symbols & set(unknowns.values())}
    if g not in found:
        return None
    for h, value in found.items():
        moments.setdefault(h, value)
    rules.append(
        Step(
            "The moments from the expected score" if len(found) > 1 else "A moment from the expected score",
            found[g] if len(found) == 1 else sp.Matrix([found[h] for h in found]),
            reason(
                "Differentiate ", term("density_sums_to_one" if discrete else "density_integrates_to_one"),
                " in each parameter" if len(shown) > 1 else " in the parameter", "" if discrete else " under the integral",
                " (the support does not depend on ", "them" if len(shown) > 1 else "it", "): the expected score is zero. Here ",
                *listed(shown),
                ", linear in the moments" if len(shown) > 1 else ", linear in the moment" if len(found) == 1 else "",
                "; solved for ", *listed([form("moment", h) for h in found]), ".",
            ),
            form("moment", g) if len(found) == 1 else sp.Matrix([form("moment", h) for h in found]),
        )
    )
    return found[g]


def _by_score(p, p_vals, g, y, density, domain, moments, rules, depth):
    """E[g(y)] from the score identity E_p[d log p / d theta] = 0.

    Differentiating the normalisation 1 = integral of p(y | theta) dy in a parameter theta under
    the integral (the support does not move with theta) gives E_p[d log p / d theta] = 0. When
    d log p / d theta = c g(y) + sum_h c_h h(y) with c free of y, E[g] = -sum_h c_h E[h] / c: for
    the gamma, d log p / d k has log y, so E[log y] = psi(k) - log(k / mu) without integrating
    log y y^(k-1) e^(-k y / mu); for the beta E[log y] = psi(a) - psi(a + b).
    """
    log_p = log_density(p, y, p_vals)
    for name, theta in p_vals.items():
        if not isinstance(theta, sp.Symbol) or name in (p.support.lower, p.support.upper):
            continue  # a parameter that moves the support cannot be differentiated under the integral
        score = sp.expand(expand_logs(sp.diff(log_p, theta)))
        parts = E.moments(score, y)
        if g not in parts or parts[g].has(y):
            continue
        rest = sp.S.Zero
        for h, c in parts.items():
            if h == g:
                continue
            value = sp.S.One if h == 1 else moment(p, p_vals, h, y, density, domain, moments, rules, depth + 1)
            if value is None:
                break
            rest += c * value
        else:
            value = sp.simplify(-rest / parts[g])
            rules.append(
                Step(
                    f"The moment of {sp.sstr(g)}, by differentiating under the integral",
                    value,
                    reason(
                        "Differentiate ", term("density_integrates_to_one"), " in ", theta, " under the integral "
                        "(the support does not depend on ", theta, "): ", sp.Eq(form("moment", form("partial", term("log_p"), theta)), 0),
                        ". Here ", sp.Eq(form("partial", term("log_p"), theta), score), "; solve for ", form("moment", g),
                        " with the moments already found.",
                    ),
                    form("moment", g),
                )
            )
            return value
    return None
