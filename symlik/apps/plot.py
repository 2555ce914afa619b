"""Figures of a derived loss and its gradient (matplotlib, an optional extra).

``loss_figure(d)`` draws the loss of a derivation and its gradient against
what the network outputs: the residual y - mu for a location, the logit or
log-rate behind a link, or the parameter itself over its range. Everything
is read from the spec (constraints, support, link), so a distribution added
as one file gets its figure with no edit here. Values come from the compiled
kernel; the gradient from ``Kernel.grad`` where the kernel has one, else from
central differences of the kernel.

``compare_figure(names)`` draws several residual losses (mse, mae, log_cosh,
cauchy, ...) and their influence functions psi(r) = d loss / d r: a bounded
psi is why a heavy-tailed likelihood resists outliers.

matplotlib is imported only here, and only when a figure is drawn; figures
are built with the object-oriented API (no pyplot, no display needed).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp

from symlik.apps.files import write_file
from symlik.compiler import compile as compile_kernel
from symlik.core.errors import SymlikError, UnknownNameError
from symlik.core.functions import exact
from symlik.losses.templates import SCALAR_TEMPLATES
from symlik.model import links
from symlik.model.distributions import get
from symlik.model.distributions.base import LATEX_NAMES

FORMATS = (".png", ".svg", ".pdf")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise SymlikError("plotting needs matplotlib: pip install 'symlik[plot]'") from None
    return Figure


# ---------------------------------------------------------------------------
# What to put on the axes, read from the spec
# ---------------------------------------------------------------------------


@dataclass
class Axis:
    """The x axis of a loss figure and the curves drawn over it."""

    input: str  # the kernel input on the x axis
    values: np.ndarray  # x values
    label: str  # x-axis label
    to_input: callable  # x values -> the input's values
    curves: list  # (legend label, {other input: value}) per curve
    y_is_residual: bool = False


def _typical(spec, name):
    """A parameter neither on the x axis nor varied takes its constraint's typical value."""
    return spec.param(name).constraint.typical


def _y_values(spec, params):
    """A few valid targets, from the support (scalar distributions)."""
    s = spec.support
    if s.kind == "discrete":
        lo = 0 if s.lower is None else (params[s.lower] if isinstance(s.lower, str) else s.lower)
        hi = (lo + 4) if s.upper is None else (params[s.upper] if isinstance(s.upper, str) else s.upper)
        values = sorted({lo, round(lo + (hi - lo) / 2), hi}) if hi - lo > 1 else [lo, hi]
        return [float(v) for v in values]
    # A bound named by a parameter (the Tobit's censoring point c) takes that parameter's value.
    lo, hi = (params.get(b, b) if isinstance(b, str) else b for b in (s.lower, s.upper))
    if lo is None and hi is None:
        return [0.0]
    if hi is None:
        return [lo + 0.5, lo + 1.0, lo + 2.0]
    return [lo + (hi - lo) * f for f in (0.2, 0.5, 0.8)]


def _math_name(name: str) -> str:
    greek = {"mu", "sigma", "nu", "tau", "kappa", "lambda", "alpha", "beta", "gamma", "theta", "phi", "rho", "eta"}
    tex = LATEX_NAMES.get(name, name)
    if tex in greek:
        tex = "\\" + tex
    return f"${tex}$" if len(tex) == 1 or tex.startswith("\\") else name


def scalar_axis(d) -> Axis:
    """The x axis for a scalar distribution: link input, residual or parameter."""
    spec = d.spec
    x = d.predicted_inputs[0]
    others = [p for p in spec.param_names if p != d.predict[0]]
    # a third predicted parameter and beyond (student_t's nu) stays at its typical value
    fixed = {p: _typical(spec, p) for p in others if p not in d.predict[:2]}
    varied = [p for p in d.predict[1:]]
    if varied:  # a second predicted parameter: one curve per value of it
        p = varied[0]
        vals = spec.param(p).constraint.several
        ys = _y_values(spec, fixed)
        y0 = ys[len(ys) // 2]
        name, to_input = p, (lambda v: v)
        if d.link and spec.link_param(d.link) == p:  # the link is on this parameter: the kernel takes its pre-activation
            link = links.get(d.link)
            name, to_input = link.input_name(p), link.numeric_forward
        curves = [(f"{_math_name(p)} = {v:g}, $y$ = {y0:g}", {**fixed, name: to_input(v), "y": y0}) for v in vals]
    else:
        curves = [(f"$y$ = {v:g}", {**fixed, "y": v}) for v in _y_values(spec, fixed)]
    if x not in d.predict:  # a link: the network's pre-activation
        link = links.get(d.link)
        values = np.linspace(-link.plot_halfwidth, link.plot_halfwidth, 401)
        return Axis(x, values, f"{link.axis_label(d.predict[0])} $z$ (network output)", lambda v: v, curves)
    c = spec.param(x).constraint
    if c.unbounded and spec.support.kind == "continuous" and spec.support.lower is None and spec.support.upper is None:
        fixed_y = {k: v for k, v in curves[0][1].items()}
        curves = [(lab, {**vals_, "y": 0.0}) for lab, vals_ in curves] if varied else [("", {**fixed_y, "y": 0.0})]
        return Axis(x, np.linspace(-4, 4, 401), r"residual $r = y - %s$" % _math_name(x).strip("$"),
                    lambda r: -r, curves, y_is_residual=True)
    return Axis(x, np.linspace(*c.plot_range), f"{_math_name(x)} (prediction)", lambda v: v, curves)


def event_axis(d, size: int = 3) -> Axis:
    """The x axis for a vector distribution: component 1 of the prediction moves, y = e_1."""
    spec = d.spec
    x = d.predicted_inputs[0]
    s = spec.support.kind
    y = np.zeros(size)
    if s in ("onehot",):
        y[0] = 1.0
    elif s == "simplex":
        y[:] = 1.0 / size
        y[0], y[1:] = 0.5, 0.5 / (size - 1)
    fixed = {
        p: np.full(size, _typical(spec, p)) if spec.param(p).event else _typical(spec, p)
        for p in spec.param_names
        if p not in d.predict
    }
    if s == "unit_sphere":  # y = e_1, and mu turns away from it by an angle in the plane of e_1, e_2
        y[0] = 1.0

        def to_input(theta):
            mu = np.zeros((len(theta), size))
            mu[:, 0], mu[:, 1] = np.cos(theta), np.sin(theta)
            return mu
        second = [p for p in d.predict[1:]]  # kappa predicted too: one curve per value of it
        curves = (
            [(f"{_math_name(p)} = {v:g}", {**fixed, p: v, "y": y}) for p in second[:1] for v in spec.param(p).constraint.several]
            if second else [("", {**fixed, "y": y})]
        )
        return Axis(x, np.linspace(0.0, np.pi, 361), r"angle $\theta$ between $\mu$ and $y$ (radians)", to_input, curves)
    if s == "counts_vector":  # all of the total in the first component
        bound = spec.support.upper
        y[0] = fixed.get(bound, _typical(spec, bound)) if isinstance(bound, str) else (bound or 2.0)
    if x not in d.predict:  # softmax logits: z = (z_1, 0, 0)
        def to_input(v):
            z = np.zeros((len(v), size))
            z[:, 0] = v
            return z
        return Axis(x, np.linspace(-6, 6, 401), f"logit $z_1$ of the true class ({size} classes, others 0)", to_input,
                    [("", {**fixed, "y": y})])
    c = spec.param(x).constraint
    if c.event:
        def to_input(v):
            p = np.empty((len(v), size))
            p[:, 0] = v
            p[:, 1:] = ((1 - v) / (size - 1))[:, None]
            return p
        return Axis(x, np.linspace(0.005, 0.995, 399), f"probability $p_1$ of the true class ({size} classes)", to_input,
                    [("", {**fixed, "y": y})])
    if c.unbounded:
        def to_input(r):
            mu = np.zeros((len(r), size))
            mu[:, 0] = -r
            return mu
        # other predicted scalars (the multivariate normal's factor entries) at a typical value
        predicted = {p: _typical(spec, p) for p in d.predict if p != x and not spec.param(p).event}
        return Axis(x, np.linspace(-4, 4, 401), r"residual $r_1 = y_1 - \mu_1$ (other components 0)", to_input,
                    [("", {**fixed, **predicted, "y": np.zeros(size)})], y_is_residual=True)

    def to_input(v):
        a = np.full((len(v), size), 1.0)
        a[:, 0] = v
        return a
    return Axis(x, np.linspace(0.05, 4, 400), f"{_math_name(x)} component 1", to_input, [("", {**fixed, "y": y})])


# ---------------------------------------------------------------------------
# Values and gradients from the compiled kernel
# ---------------------------------------------------------------------------


def _broadcast_inputs(kernel, axis: Axis, values: dict, n: int, event: bool):
    args = {}
    for name in kernel.inputs:
        if name == axis.input:
            continue
        v = np.asarray(values[name], dtype=float)
        args[name] = np.broadcast_to(v, (n, *v.shape)) if (event and v.ndim == 1) else v
    return args


def loss_and_gradient(d, axis: Axis, curve_values: dict):
    """(loss, gradient) arrays over the axis for one curve, from the compiled kernel."""
    kernel = compile_kernel(d, target="loss", reduction="none")
    x_in = axis.to_input(axis.values)
    n = len(axis.values)
    others = _broadcast_inputs(kernel, axis, curve_values, n, d.event)
    loss = np.asarray(kernel(**{axis.input: x_in}, **others), dtype=float)
    grad = _gradient(d, kernel, axis, x_in, others)
    return loss, grad


def _component(g, event):
    g = np.asarray(g, dtype=float)
    return g[:, 0] if event and g.ndim == 2 else g


def _gradient(d, kernel, axis, x_in, others):
    """d loss / d (network output), per point: Kernel.grad where offered, else central differences."""
    summed = compile_kernel(d, target="loss", reduction="sum")  # d(sum)/d x_i = d loss_i / d x_i
    if getattr(summed, "grad", None) is not None:
        try:
            g = summed.grad(**{axis.input: x_in}, **others)
            return _component(g[0] if isinstance(g, (tuple, list)) else g, d.event)
        except Exception:  # noqa: BLE001 - a grad that does not take these inputs: use differences
            pass
    h = 1e-5 * np.maximum(1.0, np.abs(axis.values))
    lo, hi = axis.values - h, axis.values + h
    f = lambda v: np.asarray(kernel(**{axis.input: axis.to_input(v)}, **others), dtype=float)  # noqa: E731
    with np.errstate(all="ignore"):
        g = (f(hi) - f(lo)) / (hi - lo)
    if axis.y_is_residual:  # the input is -r: chain rule back to d loss / d input
        g = -g
    return g


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def _title(d) -> str:
    loss = d.loss.name or "its own NLL"
    link = f", {d.link} link" if d.link else ""
    options = d.spec.label[len(d.spec.name):]  # "[sigma=per_dim]" for a non-default option
    return f"{d.spec.title}{' ' + options if options else ''} (predict {', '.join(d.predict)}{link}): {loss}"


def _style(ax, xlabel, ylabel, x):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.axhline(0, color="0.6", lw=0.8)
    if x.min() < 0 < x.max():  # mark r = 0 or z = 0 only where it is inside the range
        ax.axvline(0, color="0.6", lw=0.8)


def loss_figure(d, *, width: float = 7.5, height: float = 3.0):
    """A matplotlib Figure: the loss (left) and its gradient (right)."""
    Figure = _matplotlib()
    axis = event_axis(d) if d.event else scalar_axis(d)
    fig = Figure(figsize=(width, height), layout="constrained")
    ax_loss, ax_grad = fig.subplots(1, 2)
    x_name = _math_name(axis.input) if axis.input in d.predict else "$z$"
    if d.event:
        x_name = "$%s_1$" % x_name.strip("$")
    for color, (label, values) in zip(COLORS, axis.curves):
        loss, grad = loss_and_gradient(d, axis, values)
        ok = np.isfinite(loss)
        ax_loss.plot(axis.values[ok], loss[ok], color=color, label=label or None)
        ok = np.isfinite(grad)
        ax_grad.plot(axis.values[ok], grad[ok], color=color, label=label or None)
    _style(ax_loss, axis.label, f"loss ({d.loss.name or 'NLL without constants'})", axis.values)
    _style(ax_grad, axis.label, r"gradient $\partial \ell / \partial %s$" % x_name.strip("$"), axis.values)
    _clip(ax_loss)
    _clip(ax_grad)
    if any(label for label, _ in axis.curves):
        ax_loss.legend(frameon=False, fontsize="small")
    fig.suptitle(_title(d), fontsize="medium")
    return fig


def _clip(ax):
    """Keep the axis readable where a curve shoots off (log p near 0): cut at the 97th percentile."""
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines() if len(line.get_ydata()) > 2] or [np.zeros(1)])
    ys = ys[np.isfinite(ys)]
    if ys.size == 0:
        return
    lo, hi = np.percentile(ys, 1), np.percentile(ys, 97)
    span = max(hi - lo, 1e-9)
    if ys.max() > hi + 0.5 * span or ys.min() < lo - 0.5 * span:
        ax.set_ylim(min(lo, 0) - 0.05 * span, hi + 0.15 * span)


def _is_residual_loss(t) -> bool:
    """A scalar template whose loss depends on y and its first predicted slot only through
    the residual y - mu (checked symbolically: substituting y = mu + r leaves no mu)."""
    if t.event or not t.slots:
        return False
    y, mu, r = sp.symbols("y mu r", real=True)
    extra = [sp.Integer(1)] * (len(t.slots) - 1)
    inner = {k: sp.Integer(1) for k in t.inner}
    try:
        expr = exact(t.build(y, mu, *extra, **inner))
    except (TypeError, ValueError):
        return False
    return not sp.simplify(expr.subs(y, mu + r)).has(mu)


def residual_loss_names() -> tuple[str, ...]:
    """The names of the residual losses ``--compare`` accepts (mse, mae, huber_loss, log_cosh, cauchy, ...)."""
    return tuple(dict.fromkeys(t.name for t in SCALAR_TEMPLATES if _is_residual_loss(t)))


# A user types the short names the docs use; each maps to a template name.
RESIDUAL_ALIASES = {"huber": "huber_loss", "l1": "mae", "l2": "mse", "logcosh": "log_cosh", "lorentzian": "cauchy"}


def _residual_template(name: str):
    """A scalar template that is a loss of the residual y - mu, by name (or a documented alias)."""
    name = RESIDUAL_ALIASES.get(name, name)
    for t in SCALAR_TEMPLATES:
        if t.name == name and _is_residual_loss(t):
            return t
    raise UnknownNameError("residual loss", name, residual_loss_names())


def parse_compare_name(text: str) -> tuple[str, dict[str, float]]:
    """'huber[delta=2]' -> ('huber', {'delta': 2.0}). Numbers only; nothing is evaluated."""
    if "[" not in text:
        return text, {}
    if not text.endswith("]"):
        raise SymlikError(f"loss {text!r}: options go in brackets, e.g. huber[delta=2]")
    name, inner = text[:-1].split("[", 1)
    out = {}
    for pair in filter(None, inner.split(",")):
        key, sep, value = pair.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise SymlikError(f"loss {text!r}: {key.strip() or pair!r} must be KEY=NUMBER") from None
        if not sep:
            raise SymlikError(f"loss {text!r}: {pair!r} must be KEY=NUMBER")
    return name, out


def residual_curves(names, r):
    """{label: (loss(r), psi(r))} for residual templates, other slots and inner parameters at 1."""
    y, mu = sp.symbols("y mu", real=True)
    out = {}
    for text in names:
        name, inner = parse_compare_name(text)
        t = _residual_template(name)
        unknown = set(inner) - set(t.inner)
        if unknown:
            raise SymlikError(f"loss {name!r} has no parameter {sorted(unknown)[0]!r} (it has: {', '.join(t.inner) or 'none'})")
        values = {k: sp.Float(inner.get(k, 1.0)) for k in t.inner}
        extra = [sp.Integer(1)] * (len(t.slots) - 1)  # a scale slot (cauchy's gamma, ...) at 1
        expr = exact(t.build(y, mu, *extra, **values)).subs(mu, 0)
        psi = sp.diff(expr, y)
        f = sp.lambdify(y, expr, "numpy")
        g = sp.lambdify(y, psi, "numpy")
        with np.errstate(all="ignore"):
            loss = np.broadcast_to(np.asarray(f(r), dtype=float), r.shape)
            grad = np.broadcast_to(np.asarray(g(r), dtype=float), r.shape)
        label = t.name + (" (" + ", ".join(f"{k}={v:g}" for k, v in inner.items()) + ")" if inner else "")
        out[label] = (loss, grad)
    return out


def compare_figure(names, *, width: float = 7.5, height: float = 3.2):
    """The robust-loss comparison: loss(r) and psi(r) = d loss / d r for each name."""
    if not names:
        raise SymlikError("--compare needs at least one loss name")
    Figure = _matplotlib()
    r = np.linspace(-5, 5, 501)
    curves = residual_curves(names, r)
    fig = Figure(figsize=(width, height), layout="constrained")
    ax_loss, ax_psi = fig.subplots(1, 2)
    for color, (label, (loss, psi)) in zip(COLORS * 3, curves.items()):
        ax_loss.plot(r, loss, color=color, label=label)
        ax_psi.plot(r, psi, color=color, label=label)
    _style(ax_loss, r"residual $r = y - \mu$", r"loss $\ell(r)$", r)
    _style(ax_psi, r"residual $r = y - \mu$", r"influence $\psi(r) = \partial \ell / \partial r$", r)
    finite = [c[0][np.isfinite(c[0])] for c in curves.values()]
    tops = sorted(float(np.max(np.abs(v))) for v in finite if v.size)
    if len(tops) > 1 and tops[-1] > 3 * tops[-2]:  # one loss (mse) dwarfs the rest: show the others
        ax_loss.set_ylim(-0.2, 1.6 * tops[-2])
    psis = sorted(float(np.max(np.abs(c[1][np.isfinite(c[1])]))) for c in curves.values())
    if len(psis) > 1 and psis[-1] > 3 * psis[-2]:
        ax_psi.set_ylim(-1.6 * psis[-2], 1.6 * psis[-2])
    ax_loss.legend(frameon=False, fontsize="small")
    fig.suptitle("Residual losses and their influence: a bounded influence resists outliers", fontsize="medium")
    return fig


def hessian_figure(name: str = "student_t", nu: float = 4.0, *, width: float = 7.5, height: float = 3.0):
    """Exact against expected (Fisher) Hessian of a location-scale NLL over the residual, both
    from the compiled ``grad_hess`` kernels (mu and log sigma; sigma = 1): where the exact
    curvature turns negative a boosting leaf would be pushed the wrong way, and the Fisher
    information gives every observation the same positive curvature."""
    Figure = _matplotlib()
    r = np.linspace(-6, 6, 601)
    inputs = {"mu": np.zeros_like(r), "log_sigma": np.zeros_like(r), "nu": nu, "y": r}
    curves = {}
    for hessian in ("exact", "fisher"):
        kernel = compile_kernel(name, predict=("mu", "sigma"), link={"sigma": "log"}, target="grad_hess", hessian=hessian)
        _, h = kernel(**{k: v for k, v in inputs.items() if k in kernel.inputs})
        curves[hessian] = np.asarray(h)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, column, label in zip(axes, (0, 1), (r"$\mu$", r"$\log \sigma$")):
        ax.plot(r, curves["exact"][:, column], color=COLORS[0], label="exact Hessian")
        ax.plot(r, curves["fisher"][:, column], color=COLORS[1], label="Fisher (expected) Hessian")
        negative = curves["exact"][:, column] < 0
        ax.fill_between(r, curves["exact"][:, column], 0, where=negative, color=COLORS[0], alpha=0.15, lw=0)
        _style(ax, r"residual $r = y - \mu$ ($\sigma = 1$)", r"second derivative in %s" % label, r)
    axes[0].legend(frameon=False, fontsize="small", loc="upper right")
    title = get(name).title
    fig.suptitle(rf"{title} ($\nu = {nu:g}$): the exact Hessian turns negative in the tails", fontsize="medium")
    return fig


def render(fig, fmt: str = "svg") -> bytes:
    """A figure as bytes in ``fmt`` (png, svg or pdf), reproducibly (no dates, fixed SVG ids)."""
    import matplotlib

    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "symlik", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None, metadata=metadata)
    return buf.getvalue()


def save(fig, path) -> Path:
    """Write a figure; the format comes from the suffix (.png, .svg or .pdf), reproducibly."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise SymlikError(f"output must end in {', '.join(FORMATS)}; got {path.name!r}")
    return write_file(path, render(fig, path.suffix.lower()[1:]))  # beside the target, then renamed
