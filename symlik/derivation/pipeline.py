"""spec + predict + link -> Derivation. Pure functions over SymPy expressions.

The steps follow the textbook argument: i.i.d. likelihood -> log -> negate
-> substitute the density -> expand the logarithm -> separate what depends on
the prediction -> identify the loss (proven by the matcher) -> the minimiser
is unchanged -> (with a link) rewrite in the network's pre-activation.
"""

from __future__ import annotations


import sympy as sp

from symlik.core.algebra import expand_logs, free_of, log_of, split_sum, sum_parts, tidy_logs
from symlik.model.distributions import get
from symlik.model.distributions.base import Distribution
from symlik.core.errors import SymlikError
from symlik.core.functions import ArgMin, DensityOf, loss_symbol
from symlik.losses import matcher
from symlik.render.printing import inline_latex
from symlik.core.notation import N_OBS, OBS
from symlik.core.step import Step
from symlik.derivation.derivation import Derivation
from symlik.derivation.substitution import apply_link, observation
from symlik.derivation.gradient import gradient_steps



def _resolve(spec, options) -> Distribution:
    if isinstance(spec, Distribution):
        if options:
            return type(spec)(**{**spec.chosen, **options})
        return spec
    if isinstance(spec, str):
        return get(spec, **(options or {}))
    raise SymlikError(f"spec must be a distribution name or a Distribution; got {type(spec).__name__}")


def _check_predict(spec: Distribution, predict) -> tuple[str, ...]:
    if predict is None:
        return tuple(spec.predict)
    if isinstance(predict, str):
        predict = (predict,)
    predict = tuple(predict)
    if not predict:
        raise SymlikError("predict must name at least one parameter")
    for name in predict:
        if not isinstance(name, str):
            raise SymlikError(f"predict must be parameter names; got {name!r}")
        spec.param(name)  # raises UnknownNameError with suggestions
    if len(set(predict)) != len(predict):
        raise SymlikError(f"predict must not repeat a parameter; got {predict}")
    return predict


def derive(spec, predict=None, link: str | None = None, *, options: dict | None = None) -> Derivation:
    """Derive the NLL of ``spec`` for i.i.d. data and identify the loss.

    Parameters
    ----------
    spec : str or Distribution
        A catalog name (``symlik.names()``) or a ``Distribution`` (e.g. from ``symlik.custom``).
    predict : tuple of str, optional
        The parameters the network predicts, in positional order; default the spec's ``predict``.
    link : str, optional
        ``"logit"``, ``"softmax"`` or ``"log"``: the network outputs the pre-activation.
    options : dict, optional
        Distribution options, e.g. ``{"sigma": "per_dim"}`` for ``diag_normal``.
    """
    spec = _resolve(spec, options)
    predict = _check_predict(spec, predict)
    link = None if link in (None, "identity") else link
    if link is not None and not isinstance(link, str):
        raise SymlikError(f"link must be a string; got {type(link).__name__}")
    return _derive_cached(spec, predict, link)


_CACHE: dict = {}


def _derive_cached(spec, predict, link):
    key = (type(spec), spec.name, tuple(sorted(spec.chosen.items())), predict, link, id(spec) if getattr(spec, 'custom', False) else 0)
    if key not in _CACHE:
        _CACHE[key] = _derive(spec, predict, link)
    return _CACHE[key]


def _derive(spec: Distribution, predict: tuple[str, ...], link_name: str | None) -> Derivation:
    k = spec.index if spec.is_event else None
    y = spec.y
    theta = {p: spec.symbol(p) for p in spec.param_names}
    predicted = tuple(theta[p] for p in predict)

    # -log p, per observation, exact; expanded logs.
    density = spec.density_expr()
    log_density = spec.log_density(y, **theta)
    log_p = expand_logs(log_density) if log_density is not None else log_of(density)
    nll_theta = split_sum(-log_p)

    if spec.is_event:
        match = matcher.identify_event(nll_theta, y, predicted, k, spec.K)
    else:
        match = matcher.identify_scalar(nll_theta, y, predicted)
    if match is None:
        match = matcher.own_nll(nll_theta, predicted, k)

    # The link: the network outputs z, theta = g^-1(z).
    symbols = {}
    link_param = None
    link = None
    if link_name is not None:
        link_param = spec.link_param(link_name)
        if link_param not in predict:
            raise SymlikError(f"link {link_name!r} applies to {link_param}, which is not predicted (predict={predict})")
        link = spec.link(link_name, link_param)
    nll, loss_expr = nll_theta, match.loss.expr
    input_names = []
    for p in predict:
        if p == link_param:
            zname = link.input_name(p)
            if spec.param(p).event:
                zbase = sp.IndexedBase(zname, real=True)
                symbols[zname] = zbase[k]
            else:
                zbase = sp.Symbol(zname, real=True)
                symbols[zname] = zbase
            nll = apply_link(nll, theta[p], link, zbase, k, spec.K if spec.is_event else None)
            loss_expr = apply_link(loss_expr, theta[p], link, zbase, k, spec.K if spec.is_event else None)
            input_names.append(zname)
        else:
            symbols[p] = theta[p]
            input_names.append(p)
    symbols["y"] = y
    others = [p for p in spec.param_names if p not in predict]
    for p in others:
        symbols[p] = theta[p]
    inputs = (*input_names, "y", *others)
    loss = matcher.Loss(match.loss.name, loss_expr, match.loss.template, match.loss.inner)

    steps = _steps(spec, predict, theta, nll_theta, match, link, link_param, loss_expr, symbols, input_names)
    varying = {"y", *predict, *input_names}
    steps += gradient_steps(spec, loss, loss_expr, symbols, input_names, lambda e: observation(e, varying), N_OBS)
    return Derivation(
        spec=spec,
        predict=predict,
        link=link_name,
        nll=nll,
        loss=loss,
        scale=match.scale,
        offset=match.offset,
        inputs=inputs,
        steps=tuple(steps),
        symbols=symbols,
        nll_theta=nll_theta,
    )


# ---------------------------------------------------------------------------
# The steps, written over n observations indexed by i.
# ---------------------------------------------------------------------------


def _solved(loss, math) -> str:
    """The sentence naming the inner parameters the template's calibration solved for."""
    if not loss.inner:
        return ""
    values = ", ".join(
        f"{math(v)}, the distribution's own" if str(v) == k else math(sp.Eq(_inner_symbol(k), v, evaluate=False))
        for k, v in loss.inner.items()
    )
    return f" The template's inner parameter ({values}) was solved from the NLL itself, then proven."


def _inner_symbol(name):
    """A template's inner parameter as a symbol (tau, delta, c, total) for the reasons."""
    return sp.Symbol(name, positive=True)


def _upright(expr, inner) -> dict:
    """An inner parameter with a word for a name (total) is set upright, as a word."""
    return {s: r"\mathrm{%s}" % s.name for s in expr.free_symbols
            if s.name in inner and len(s.name) > 1 and sp.latex(s) == s.name}


def _template_form(loss, match, y, theta_of, k):
    """The template's own expression, its inner parameters as symbols, on the predictions
    that fill its slots (``theta_of(i)``: the i-th predicted quantity)."""
    inner = {name: _inner_symbol(name) for name in loss.inner}
    form = loss.template.build(y, *(theta_of(i) for i in match.order), **inner)
    if k is None:
        return form
    if form.could_extract_minus_sign():  # -sum_k y_k log p_k, not sum_k -y_k log p_k
        return -sp.Sum(-form, (k, 1, loss.expr.limits[0][2]))
    return sp.Sum(form, (k, 1, loss.expr.limits[0][2]))


def _link_reason(link, link_param, tex, theta):
    """The network's output, the link's inverse and the identities of this link only,
    each written by SymPy from the link's own forms (log sigmoid(z) = -softplus(-z), ...)."""
    z = sp.Symbol("z", real=True)
    name = link.input_name(link_param)
    if link.event:  # softmax over the event axis
        zbase, k, K = sp.IndexedBase("z", real=True), sp.Symbol("k", integer=True), sp.Symbol("K", integer=True)
        logs = [(r"\log \operatorname{softmax}(z)_{k}", link.log_inverse(zbase, k, K))]
        inverse = r"\operatorname{softmax}(z)"
    else:
        shown = theta if link.name == "log" else link.latex_inverse()  # log lambda = z; log sigma(z) = ...
        logs = [(r"\log %s" % shown, link.log_inverse(z))]
        if link.log1m_inverse is not None:
            logs.append((r"\log(1 - %s)" % link.latex_inverse(), link.log1m_inverse(z)))
        inverse = link.latex_inverse()
    identities = " and ".join("$%s = %s$" % (lhs, tex(rhs)) for lhs, rhs in logs)
    start = f"The network outputs {name}, written $z$, and ${theta} = {inverse}$"
    if link.name == "log":
        return f"{start}, so {identities}: the parameter is positive for every $z$ and its logarithm is never formed."
    return f"{start}; the logs simplify, {identities}, and never form the logarithm of a rounded probability."


def _display(expr, k, K=None):
    """Tidy an expression for display only (exactly equal): gather log constants.

    For an event sum, constants that were pulled out as K * c go back into the
    summand first, so that log(sigma_k) + log(2 pi)/2 is shown as
    log(2 pi)/2 + log(sigma_k^2)/2 and then split: the textbook form.
    """
    if k is None:
        return tidy_logs(expr)
    summand, rest = sum_parts(expr, k)
    moved = [t for t in sp.Add.make_args(rest) if K is not None and t.has(K) and not (t / K).has(K)]
    summand = summand + sp.Add(*(t / K for t in moved))
    rest = sp.Add(*(t for t in sp.Add.make_args(rest) if t not in moved))
    return split_sum(sp.Sum(tidy_logs(summand, k), (k, 1, K))) + tidy_logs(rest)


def _shown_sum(*terms):
    """An unevaluated sum, in the order given, without zero terms."""
    terms = [t for t in terms if t != 0]
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else (terms[0] if terms else sp.S.Zero)


def _steps(spec, predict, theta, nll_theta, match, link, link_param, loss_expr, symbols, input_names):
    k = spec.index if spec.is_event else None
    # n counts the observations unless the distribution has its own n (binomial trials): then N.
    n_obs = N_OBS if "n" not in spec.param_names else sp.Symbol("N", integer=True, positive=True)
    over_obs = lambda e: sp.Sum(e, (OBS, 1, n_obs))  # noqa: E731
    # A parameter that bounds the support (binomial's n) is part of each observation.
    bounds = {b for b in (spec.support.lower, spec.support.upper) if isinstance(b, str)}
    varying = {"y", *predict, *input_names, *bounds}
    obs = lambda e: observation(e, varying)  # noqa: E731
    y_i = obs(spec.y if not spec.is_event else spec._y_base())
    theta_i = [obs(spec.base(p) if not spec.param(p).event else spec.base(p)) for p in spec.param_names]
    pred_latex = ", ".join(spec.latex_name(p) for p in predict)
    link_inputs = set(input_names) - set(predict)
    # Inline math for the reasons, its symbols named as in the steps: tex(e) is the LaTeX, math(e) the $tex(e)$.
    tex = lambda e: inline_latex(e)  # noqa: E731
    math = lambda e: f"${tex(e)}$"  # noqa: E731
    lhs_L = r"\mathcal{L}(%s)" % pred_latex
    lhs_NLL = r"\operatorname{NLL}(%s)" % pred_latex
    steps = []
    dens_i = DensityOf(y_i, *theta_i)
    steps.append(
        Step(
            "The i.i.d. likelihood",
            sp.Product(dens_i, (OBS, 1, n_obs)),
            f"Given the predictions, the ${n_obs}$ observations are independent, so their joint density is a product.",
            lhs_L,
            f"L({', '.join(predict)})",
        )
    )
    steps.append(
        Step(
            "Take the logarithm",
            over_obs(sp.log(dens_i)),
            "The logarithm is increasing, so it keeps the maximiser, and it turns the product into a sum.",
            r"\log " + lhs_L,
            f"log L({', '.join(predict)})",
        )
    )
    steps.append(
        Step(
            "Negate",
            -over_obs(sp.log(dens_i)),
            "Training minimises, so negate: the negative log-likelihood is the quantity to minimise.",
            lhs_NLL,
            f"NLL({', '.join(predict)})",
        )
    )
    density = obs(spec.density_expr())
    steps.append(
        Step(
            f"Substitute the {spec.title_in_sentence} density",
            -over_obs(sp.log(density)),
            f"Write out $p(y \\mid {', '.join(spec.latex_name(p) for p in spec.param_names)})$ "
            f"for the {spec.title_in_sentence} distribution.",
            lhs_NLL,
            f"NLL({', '.join(predict)})",
        )
    )
    steps.extend(Step(*step) for step in spec.density_steps())
    loglik = _display(-nll_theta, k, spec.K if k is not None else None)
    steps.append(
        Step(
            "Expand the logarithm",
            over_obs(obs(loglik)),
            r"The log of a product is the sum of the logs, and $\log e^{u} = u$; this is the log-likelihood.",
            r"\log " + lhs_L,
            f"log L({', '.join(predict)})",
        )
    )
    scale, offset, loss = match.scale, match.offset, match.loss
    per_obs = [spec.y, *(theta[b] for b in bounds)]
    offset_total = n_obs * _display(offset, k, spec.K if k is not None else None) if free_of(offset, per_obs) else over_obs(obs(_display(offset, k, spec.K if k is not None else None)))
    # A scale that varies by observation (binomial's n) weighs each term: it stays inside the sum.
    scale_varies = not free_of(scale, per_obs)
    weighted = over_obs(obs(scale * loss.expr)) if scale_varies else scale * over_obs(obs(loss.expr))
    separated = _shown_sum(offset_total, weighted)
    steps.append(
        Step(
            "Separate the terms",
            separated,
            "The first term does not depend on the predictions; only the second changes as they change.",
            lhs_NLL,
            f"NLL({', '.join(predict)})",
        )
    )
    pred_syms = [obs(theta[p]) if not spec.param(p).event else obs(spec.base(p)) for p in predict]
    if loss.name is not None:
        name = loss.template.latex_name
        # A template on a rescaled target (y/n) shows that target as its argument.
        target = loss.template.extra.get("target")
        target_i = target(y_i, **{key: obs(v) for key, v in loss.inner.items()}) if target else y_i
        loss_call = loss_symbol(name, target_i, *pred_syms)
        proven = (
            r"(proven: $-\log p - \text{scale} \cdot \text{loss} - \text{offset}$ simplifies to $0$, and the "
            "offset has zero derivative in every prediction)." + _solved(loss, math)
        )
        # The template's own formula, typeset by SymPy: right for every template, inner parameters included.
        form = math(obs(_template_form(loss, match, spec.y, lambda j: theta[predict[j]], k)))
        op = r"\operatorname{%s}" % name
        if scale_varies:
            identified = _shown_sum(offset_total, over_obs(obs(scale) * loss_call))
            why = (
                f"With ${op}_{{i}}$ the loss of observation $i$, {form}: "
                f"$\\operatorname{{NLL}} = \\sum_{{i}} \\text{{scale}}_{{i}} \\, {op}_{{i}} + \\text{{constant}}$, "
                f"each observation weighted by $\\text{{scale}}_{{i}} = {tex(obs(scale))} > 0$ {proven}"
            )
        else:
            identified = _shown_sum(offset_total, n_obs * scale * loss_call)
            why = (
                f"With ${op}$ the mean over the observations of {form}: "
                f"$\\operatorname{{NLL}} = {sp.latex(n_obs)} \\cdot \\text{{scale}} \\cdot {op} + \\text{{constant}}$, "
                f"with $\\text{{scale}} = {tex(scale)} > 0$ {proven}"
            )
        steps.append(
            Step(f"Identify the loss: {loss.template.title}", identified, why, lhs_NLL, f"NLL({', '.join(predict)})")
        )
        aside = loss.template.extra.get("aside")
        if aside is not None:  # a related loss, e.g. smooth L1 = Huber / delta
            inner_i = {key: obs(v) for key, v in loss.inner.items()}
            steps.append(Step(*aside(y_i, pred_syms, inner_i, scale)))
    else:
        steps.append(
            Step(
                "No familiar loss fits",
                over_obs(obs(loss.expr)),
                "No template in the catalog matches this NLL, so the loss is the NLL itself "
                "with the terms free of the predictions dropped.",
                lhs_NLL + r" - \text{const}",
                f"NLL({', '.join(predict)}) - const",
            )
        )
    over = [sp.Symbol(spec.latex_name(p)) for p in predict]
    if loss.name is None:
        criterion = over_obs(obs(loss.expr))
    elif scale_varies:
        criterion = over_obs(obs(scale) * loss_call)
    else:
        criterion = loss_call
    steps.append(
        Step(
            "The minimiser is unchanged",
            ArgMin(criterion, *over),
            (
                "An additive constant does not move the minimiser; the per-observation weights stay, "
                "so the weighted sum and the negative log-likelihood share the same argmin."
                if scale_varies
                else "A positive scale and an additive constant do not move the minimiser: the sum, the mean "
                "and the negative log-likelihood share the same argmin."
            ),
            r"\operatorname*{arg\,min}_{%s} \operatorname{NLL}" % pred_latex,
            f"argmin NLL({', '.join(predict)})",
        )
    )
    if link is not None:
        zname = link.input_name(link_param)
        zlatex = "z"
        loss_i = obs(loss_expr.subs(symbols[zname], symbols[zname]))
        steps.append(
            Step(
                f"Apply the {link.name} link",
                over_obs(loss_i),
                _link_reason(link, link_param, tex, spec.latex_name(link_param)),
                r"\sum_i \ell_i(%s)" % zlatex,
                "sum_i loss_i(z)",
            )
        )
    return steps
