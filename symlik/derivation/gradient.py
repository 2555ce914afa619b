"""The gradient of a per-observation loss with respect to each predicted input.

Scalar inputs are differentiated by SymPy. An event input z (one value per
component on the last axis, written ``z[k]``) is differentiated component by
component: d/dz_k of sum_j f(z_j) is f'(z_k), and d/dz_k of logsumexp(z) is
softmax(z)_k, so the result is again an expression in the index k, which the
backends print as an array over the last axis. Nothing here is numeric: the
backends compile these expressions, and the derivation renders them (derivation/passes/gradient.py writes the steps).
"""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import LogSumExp, PowExactBase, Softmax


def _event_atoms(expr, base):
    """The outermost sums and logsumexps in ``expr`` that involve ``base``."""
    found = []

    def walk(e):
        if isinstance(e, (sp.Sum, LogSumExp, Softmax)) and e.has(base):
            found.append(e)
            return
        for a in e.args:
            walk(a)

    walk(expr)
    return list(dict.fromkeys(found))


def _d_event(expr, base, k, K):
    """d expr / d base[k], as an expression in k."""
    if not expr.has(base):
        return sp.S.Zero
    if isinstance(expr, LogSumExp):
        return Softmax(base, expr.args[1], k) if expr.args[0] == base else sp.S.Zero
    if isinstance(expr, Softmax):  # d s_j / d z_k = s_j (delta_jk - s_k): s_k (1 - s_k) on the diagonal
        if expr.args[0] != base:
            return sp.S.Zero
        return expr * (sp.KroneckerDelta(expr.args[2], k) - Softmax(base, expr.args[1], k))
    if isinstance(expr, sp.Sum):
        (j, lo, hi), body = expr.limits[0], expr.function
        if len(expr.limits) != 1:
            raise NotImplementedError(f"only single sums over the event axis are differentiated: {expr}")
        if j == k:  # keep the summation index apart from the free component index
            fresh = sp.Dummy("j", integer=True, positive=True)
            body, j = body.xreplace({j: fresh}), fresh
        direct, indirect = _split_derivative(body, base, j, k, K)
        return direct.xreplace({j: k}) + (sp.Sum(indirect, (j, lo, hi)) if indirect != 0 else 0)
    direct, indirect = _split_derivative(expr, base, k, k, K)
    return direct + indirect


def _split_derivative(expr, base, index, k, K):
    """(direct, indirect) parts of d expr / d base[k]: through base[index] itself
    (to be read at index = k) and through the sums and logsumexps inside expr."""
    atoms = _event_atoms(expr, base)
    dummies = [sp.Dummy(f"a{i}") for i in range(len(atoms))]
    g = expr.xreplace(dict(zip(atoms, dummies)))
    t = sp.Dummy("t", real=True)
    g = g.xreplace({base[index]: t})
    if g.has(base):
        raise NotImplementedError(f"{base} enters {expr} at more than one index outside a sum")
    back = {t: base[index], **dict(zip(dummies, atoms))}
    direct = sp.diff(g, t).xreplace(back)
    indirect = sp.Add(*(sp.diff(g, a).xreplace(back) * _d_event(atom, base, k, K) for a, atom in zip(dummies, atoms)))
    return direct, indirect


def support_facts(spec) -> dict:
    """Identities that hold on the support, used to simplify gradients:
    a one-hot or probability-vector target sums to 1 over the event axis."""
    s = spec.support
    if s.kind not in ("onehot", "simplex", "counts_vector"):
        return {}
    total = sp.S.One
    if s.kind == "counts_vector":
        if not isinstance(s.upper, str):
            return {}
        total = spec.symbol(s.upper)
    return {"y_total": total}


def apply_facts(expr, spec, facts) -> sp.Expr:
    if "y_total" not in facts:
        return expr
    ybase = spec._y_base()
    return expr.replace(
        lambda e: isinstance(e, sp.Sum) and isinstance(e.function, sp.Indexed) and e.function.base == ybase
        and e.function.indices == (e.limits[0][0],),
        lambda e: facts["y_total"],
    )


def _power_rule(expr) -> sp.Expr:
    """A^b / B -> (A/B) A^(b-1) where A/B is free of B's symbols.

    SymPy differentiates A^b as b A^b A'/A; at A = 0 that is 0/0 (nan in a kernel)
    where b A^(b-1) A' is the finite limit (the generalised normal's |r|^beta at r = 0)."""

    def one(m):
        factors = list(m.args)
        for i, f in enumerate(factors):
            if not (isinstance(f, sp.Pow) and not f.exp.is_Integer):
                continue
            for j, g in enumerate(factors):
                if j == i or not (isinstance(g, sp.Pow) and g.exp == -1):
                    continue
                ratio = sp.simplify(f.base / g.base)
                if not ratio.free_symbols & g.base.free_symbols:
                    rest = [h for k, h in enumerate(factors) if k not in (i, j)]
                    return sp.Mul(*rest, ratio, f.base ** (f.exp - 1))
        return m

    return expr.replace(lambda e: isinstance(e, sp.Mul), one)


def _merge_exact_powers(expr) -> sp.Expr:
    """base^e * base-like factors -> base^(e+1) * what is left, for the double-double powers
    (x (y/lam)^(k-1) y/lam^2 -> x (y/lam)^k / lam), so that 1 - base^k can become expm1."""
    def one(m):
        powers = [f for f in m.args if isinstance(f, PowExactBase)]
        if len(powers) != 1:
            return m
        p = powers[0]
        rest = sp.Mul(*(f for f in m.args if f is not p))
        q = sp.simplify(rest / p.args[0])
        if sp.count_ops(q) < sp.count_ops(rest):
            return q * PowExactBase(p.args[0], p.args[1] + 1)
        return m

    return expr.replace(lambda e: isinstance(e, sp.Mul) and e.has(PowExactBase), one)


# Multivariate factorisation grows fast with the number of symbols (the multivariate normal's
# gradient in L_11 at D = 3 has 12: 13 s, and minutes for some hash seeds); the catalog's scalar
# entries have at most FACTOR_MAX_SYMBOLS, above which the gradient is kept as differentiated.
FACTOR_MAX_SYMBOLS = 8


def _factored(expr) -> sp.Expr:
    """For a rational gradient, the smallest of: as is, SymPy's factor(), and factor() with
    every difference of inputs held as one symbol (so (mu - y)^2 is never expanded into
    mu^2 - 2 mu y + y^2, which cancels). The inverse Gaussian's gradient shrinks to
    2 (mu - y) / mu^3, with no mu^2 y to underflow; Student-t's to (nu + 1) r / (nu sigma^2 + r^2)."""
    if expr.atoms(sp.Function) or expr.has(sp.Sum) or not isinstance(expr, (sp.Add, sp.Mul, sp.Pow)):
        return expr
    if len(expr.free_symbols) > FACTOR_MAX_SYMBOLS:
        return expr
    candidates = [expr]
    try:
        candidates.append(sp.factor(expr))
        diffs = {}
        for a in expr.atoms(sp.Add):
            if len(a.args) == 2 and all(isinstance(t.as_coeff_Mul()[1], (sp.Symbol, sp.Indexed)) for t in a.args):
                if -a not in diffs:
                    diffs[a] = sp.Dummy("r", real=True)
        held = expr.xreplace({**diffs, **{-a: -r for a, r in diffs.items()}})
        candidates.append(sp.factor(held).xreplace({r: a for a, r in diffs.items()}))
    except (sp.PolynomialError, NotImplementedError):  # pragma: no cover - SymPy gave up
        pass
    return min(candidates, key=sp.count_ops)


def tidy(expr) -> sp.Expr:
    """Gather common factors without expanding anything: 2*mu - 2*y -> 2*(mu - y);
    A^b / A -> A^(b - 1); a rational gradient in its smallest factored form."""
    return sp.factor_terms(_factored(_merge_exact_powers(_power_rule(sp.powsimp(expr)))))


class Components(sp.Function):
    """The array over the event axis whose i-th entry is args[i-1]: the gradient in an event input
    that enters by position (x_1, x_2, ... for a fixed event size, not x_k), one derivative each."""


def _positions(expr, base) -> list:
    return sorted({a.indices[0] for a in expr.atoms(sp.Indexed) if a.base == base and a.indices[0].is_Integer})


def gradient(expr, d, name) -> sp.Expr:
    """d expr / d (input ``name``) per observation; for an event input, its k-th component."""
    target = d.symbols[name]
    spec = d.spec
    if isinstance(target, sp.Indexed) and _positions(expr, target.base):
        # written out component by component (the multivariate normal at a fixed D): one
        # derivative per position, gathered over the event axis
        size = int(max(_positions(expr, target.base)))
        return Components(*(tidy(sp.diff(expr, target.base[i])) for i in range(1, size + 1)))
    if isinstance(target, sp.Indexed):
        g = _d_event(expr, target.base, target.indices[0], spec.K)
    else:
        g = sp.diff(expr, target)
    g = apply_facts(g, spec, support_facts(spec))
    return tidy(g)


def loss_gradient(d) -> dict:
    """{predicted input: d loss / d input} of the canonical loss (for event inputs: the k-th component)."""
    return gradients(d.loss.expr, d)


def gradients(expr, d) -> dict:
    """{predicted input name: gradient expression}, in the kernel's input order."""
    return {name: gradient(expr, d, name) for name in d.predicted_inputs}


__all__ = ["Components", "gradient", "gradients", "loss_gradient", "support_facts", "apply_facts", "tidy"]
