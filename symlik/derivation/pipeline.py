"""spec + predict + link -> Derivation. Pure functions over SymPy expressions.

``derive`` works out the NLL, proves which loss it is (the matcher) and
applies the link; the steps that show the argument are written by the named
passes of symlik.derivation.passes (likelihood -> log -> negate -> substitute
-> expand -> separate -> identify -> minimiser -> link -> gradient).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Mapping


import sympy as sp

from symlik.core import budget, pickling
from symlik.core.algebra import expand_logs, log_of, split_sum
from symlik.core.errors import SymlikError
from symlik.derivation import passes
from symlik.derivation.derivation import Derivation
from symlik.derivation.passes import Context
from symlik.derivation.substitution import apply_link
from symlik.losses import matcher
from symlik.model.distributions import get
from symlik.model.distributions.base import Distribution


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


def derive(spec, predict=None, link=None, *, options: dict | None = None) -> Derivation:
    """Derive the NLL of ``spec`` for independent observations and identify the loss.

    Parameters
    ----------
    spec : str or Distribution
        A catalog name (``symlik.names()``) or a ``Distribution`` (e.g. from ``symlik.custom``).
    predict : tuple of str, optional
        The parameters the network predicts, in positional order; default the spec's ``predict``.
    link : str or dict, optional
        ``"logit"``, ``"softmax"``, ``"log"`` or ``"softplus"``: the network outputs the
        pre-activation of the first predicted parameter the link fits. A dict gives one link
        per predicted parameter, e.g. ``{"mu": "identity", "sigma": "log"}``; the kernel's
        inputs are then named after each link (``mu``, ``log_sigma``).
    options : dict, optional
        Distribution options, e.g. ``{"sigma": "per_dim"}`` for ``diag_normal``.

    Notes
    -----
    A custom density is derived under the time budget (``SYMLIK_TIME_BUDGET`` seconds, default
    30; 0 = none; or an enclosing ``symlik.core.budget.time_budget``), in a child process that
    is stopped when it runs out: then ``BudgetExceeded`` names the stage. The catalog's
    distributions are derived here, with no limit.
    """
    spec = _resolve(spec, options)
    predict = _check_predict(spec, predict)
    link = _check_link(spec, predict, link)
    return _derive_cached(spec, predict, link)


def _check_link(spec: Distribution, predict: tuple[str, ...], link):
    """The link in its one canonical form: None, a link name (one link, on the parameter it
    applies to by default) or a dict {parameter: link name} of the non-identity links."""
    if link is None or link == "identity":
        return None
    if isinstance(link, str):
        return link
    if not isinstance(link, Mapping):
        raise SymlikError(f"link must be a link name or a dict {{parameter: link name}}; got {type(link).__name__}")
    chosen = {}
    for param, name in link.items():
        if param not in predict:
            raise SymlikError(f"link names parameter {param!r}, which is not predicted (predict={predict})")
        if not isinstance(name, str):
            raise SymlikError(f"link of {param} must be a link name; got {type(name).__name__}")
        spec.link(name, param)  # raises when the link is unknown, not accepted or does not fit
        if name != "identity":
            chosen[param] = name
    chosen = {p: chosen[p] for p in predict if p in chosen}  # in predict order: one cache key per meaning
    if not chosen:
        return None
    if len(chosen) == 1:
        (param, name), = chosen.items()
        if _default_param(spec, name) == param:  # what link=name means already
            return name
    return chosen


def _default_param(spec: Distribution, name: str):
    try:
        return spec.link_param(name)
    except SymlikError:
        return None


def link_map(spec: Distribution, predict: tuple[str, ...], link) -> dict:
    """{parameter: Link} for a canonical link (``_check_link``), in predict order."""
    if link is None:
        return {}
    if isinstance(link, str):
        param = spec.link_param(link)
        if param not in predict:
            raise SymlikError(f"link {link!r} applies to {param}, which is not predicted (predict={predict})")
        return {param: spec.link(link, param)}
    return {param: spec.link(name, param) for param, name in link.items()}


_CACHE: dict = {}


def _derive_cached(spec, predict, link):
    link_key = tuple(link.items()) if isinstance(link, dict) else link
    key = (type(spec), spec.name, tuple(sorted(spec.chosen.items())), predict, link_key, id(spec) if getattr(spec, 'custom', False) else 0)
    if key not in _CACHE:
        # A user's density may make SymPy crawl: its derivation runs under the time budget; the
        # catalog's are known to finish.
        with budget.time_budget() if getattr(spec, "custom", False) else contextlib.nullcontext():
            _CACHE[key] = _bounded_derive(spec, predict, link)
    return _CACHE[key]


def _bounded_derive(spec, predict, link) -> Derivation:
    """_derive, in a child process stopped at the budget when there is one: a simplify or an
    integral that never ends cannot be interrupted from inside, only killed. The Derivation comes
    back pickled by symlik.core.pickling (its steps exactly as derived), with the caller's spec."""
    if math.isinf(budget.remaining()) or budget.stopped_from_outside():
        return _derive(spec, predict, link)
    derived = pickling.loads(budget.run_in_child(_derive_pickled, spec, predict, link))
    return dataclasses.replace(derived, spec=spec)


def _derive_pickled(spec, predict, link) -> bytes:
    """In the child: the Derivation without its spec (the parent has it), pickled."""
    return pickling.dumps(dataclasses.replace(_derive(spec, predict, link), spec=None))


def _derive(spec: Distribution, predict: tuple[str, ...], link_name) -> Derivation:
    context = prepare(spec, predict, link_name)
    with budget.stage("writing the derivation's steps"):
        steps = passes.run(context)
    return Derivation(
        spec=spec,
        predict=predict,
        link=link_name,
        nll=context.nll,
        loss=matcher.Loss(context.loss.name, context.loss_expr, context.loss.template, context.loss.inner),
        scale=context.match.scale,
        offset=context.match.offset,
        inputs=context.inputs,
        steps=steps,
        symbols=context.symbols,
        nll_theta=context.nll_theta,
    )


def prepare(spec: Distribution, predict: tuple[str, ...], link_name) -> Context:
    """The NLL, the proven loss and the link applied: everything the passes write steps about."""
    k = spec.index if spec.is_event else None
    y = spec.y
    theta = {p: spec.symbol(p) for p in spec.param_names}
    predicted = tuple(theta[p] for p in predict)

    # -log p, per observation, exact; expanded logs.
    density = spec.density_expr()
    with budget.stage("deriving the negative log-likelihood"):
        log_density = spec.log_density(y, **theta)
        log_p = expand_logs(log_density) if log_density is not None else log_of(density)
        nll_theta = split_sum(-log_p)

    with budget.stage("proving which loss the negative log-likelihood is"):
        if spec.is_event:
            match = matcher.identify_event(nll_theta, y, predicted, k, spec.K)
        else:
            match = matcher.identify_scalar(nll_theta, y, predicted)
        if match is None:
            match = matcher.own_nll(nll_theta, predicted, k)

    # The links: the network outputs z, theta = g^-1(z), one link per parameter.
    links = link_map(spec, predict, link_name)
    symbols = {}
    nll, loss_expr = nll_theta, match.loss.expr
    input_names = []
    stages = []
    for p in predict:
        if p in links:
            link = links[p]
            zname = link.input_name(p)
            if spec.param(p).event:
                zbase = sp.IndexedBase(zname, real=True)
                symbols[zname] = zbase[k]
            else:
                zbase = sp.Symbol(zname, real=True)
                symbols[zname] = zbase
            # (an event link, softmax, for an event parameter; a scalar one of an event model is a scalar's)
            K = spec.K if spec.param(p).event else None
            nll = apply_link(nll, theta[p], link, zbase, k, K)
            loss_expr = apply_link(loss_expr, theta[p], link, zbase, k, K)
            input_names.append(zname)
            stages.append((p, link, loss_expr))
        else:
            symbols[p] = theta[p]
            input_names.append(p)
    symbols["y"] = y
    others = [p for p in spec.param_names if p not in predict]
    for p in others:
        symbols[p] = theta[p]
    inputs = (*input_names, "y", *others)
    return Context(spec, predict, theta, nll_theta, match, tuple(stages), loss_expr, symbols,
                   tuple(input_names), nll, inputs)
