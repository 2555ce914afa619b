"""Canonical loss templates, one module-level object each (as optax writes losses).

A template is the per-observation loss written in the usual way, as a
function of the target ``y`` and the predicted quantities, in the order of
its ``slots``. Event templates (``event=True``) give the summand over the
event axis; the loss is its sum over k = 1..K. A template may carry inner
parameters (pinball's tau, say) whose values the matcher must *solve for*
from the NLL through ``calibrate``; it never reads them off a name.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp


@dataclass(frozen=True)
class TorchForm:
    """torch.nn.functional's form of a loss: the options it takes, and when a derived loss is
    that form with nothing folded in (so that torch's options mean what they mean in torch)."""

    options: tuple[str, ...]  # option names (derivation/options.py checks and applies them)
    predicted: int = 1  # torch's form takes this many predicted quantities
    plain: bool = False  # ... and only with scale 1 and no offset (a binomial's BCE, scale n, is not torch's BCE)
    targets: str | None = None  # ... and only for this kind of support of y ("onehot": class indices)
    # option -> the rule for a prediction that must be > 0 but may be 0 once the option is set
    zero_allowed: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    slots: tuple[str, ...]  # what each predicted input means: "mean", "std", "prob", ...
    build: Callable[..., sp.Expr]  # (y, *predicted, **inner) -> per-observation loss
    latex_name: str
    event: bool = False
    inner: tuple[str, ...] = ()
    # calibrate(nll, y, predicted) -> iterable of {inner name: value} to try.
    calibrate: Callable | None = None
    torch: str = ""  # the torch.nn.functional equivalent, for docs
    doc: str = ""
    extra: dict = field(default_factory=dict)
    torch_form: TorchForm | None = None  # the torch options this loss takes, and when
    # An event loss that is a constant plus the sum over k (1 - sum_k mu_k y_k): the constant,
    # outside the sum, so that the loss reads as written (the matcher moves it out of the offset).
    event_constant: sp.Expr = sp.S.Zero

    def expr(self, y, *predicted, **inner) -> sp.Expr:
        return self.build(y, *predicted, **inner)

    def __reduce__(self):
        # build and calibrate are functions, lambdas among them: a template goes to another
        # process (a Derivation from a time-bounded child) as its place in the registry, which
        # every process collects alike.
        for table in ("SCALAR_TEMPLATES", "EVENT_TEMPLATES"):
            for i, template in enumerate(__getattr__(table)):
                if template is self:
                    return registered, (table, i)
        raise pickle.PicklingError(f"the loss template {self.name!r} is not in the registry, so it cannot be pickled")

    def follows_torch(self, d) -> bool:
        """Derivation ``d``, whose loss is this template, is torch's form of it (its options apply)."""
        form = self.torch_form
        if form is None or len(d.predict) != form.predicted or d.spec.is_event != self.event:
            return False
        if form.plain and not (d.scale == 1 and d.offset == 0):
            return False
        return form.targets is None or d.spec.support.kind == form.targets


mse = Template(
    "mse",
    "mean squared error",
    ("mean",),
    lambda y, mu: (y - mu) ** 2,
    "MSE",
    torch="mse_loss",
    doc="(y - mu)^2",
)

mae = Template(
    "mae",
    "mean absolute error",
    ("mean",),
    lambda y, mu: sp.Abs(y - mu),
    "MAE",
    torch="l1_loss",
    doc="|y - mu|",
)

binary_cross_entropy = Template(
    "binary_cross_entropy",
    "binary cross-entropy",
    ("prob",),
    lambda y, p: -(y * sp.log(p) + (1 - y) * sp.log(1 - p)),
    "BCE",
    torch="binary_cross_entropy / binary_cross_entropy_with_logits",
    doc="-(y log p + (1 - y) log(1 - p))",
    torch_form=TorchForm(("pos_weight", "soft_targets"), plain=True),
)

gaussian_nll = Template(
    "gaussian_nll",
    "Gaussian negative log-likelihood (torch's GaussianNLLLoss, var = sigma^2)",
    ("mean", "std"),
    lambda y, mu, sigma: sp.Rational(1, 2) * (sp.log(sigma**2) + (y - mu) ** 2 / sigma**2),
    "GaussianNLL",
    torch="gaussian_nll_loss",
    doc="(log var + (y - mu)^2 / var) / 2",
    torch_form=TorchForm(
        ("eps", "full"), predicted=2, zero_allowed={"eps": "be >= 0 (the variance is clamped at eps)"}
    ),
)

# Event templates: the summand over the last axis.
mse_event = Template(
    "mse",
    "squared L2 norm ||y - mu||^2 per observation",
    ("mean",),
    lambda y, mu: (y - mu) ** 2,
    "MSE",
    event=True,
    torch="mse_loss(reduction='sum') per observation",
    doc="sum_k (y_k - mu_k)^2",
)

cross_entropy = Template(
    "cross_entropy",
    "cross-entropy",
    ("prob",),
    lambda y, p: -y * sp.log(p),
    "CE",
    event=True,
    torch="cross_entropy (on logits) / nll_loss (on log-probabilities)",
    doc="-sum_k y_k log p_k",
    torch_form=TorchForm(("label_smoothing", "class_weight", "ignore_index"), plain=True, targets="onehot"),
)

cosine_similarity = Template(
    "cosine_similarity",
    "cosine-similarity loss 1 - mu . y of unit vectors",
    ("mean direction",),
    lambda y, mu: -mu * y,
    "CosineSimilarityLoss",
    event=True,
    torch="1 - cosine_similarity(mu, y) (cosine_embedding_loss with target 1)",
    doc="1 - sum_k mu_k y_k, for unit vectors mu and y",
    event_constant=sp.S.One,
)

SEED_SCALAR: tuple[Template, ...] = (mse, mae, binary_cross_entropy, gaussian_nll)
SEED_EVENT: tuple[Template, ...] = (mse_event, cross_entropy, cosine_similarity)


def _collect():
    """Seed templates plus those of every module in losses/ that exports
    SCALAR or EVENT tuples (one module per family of losses)."""
    pkg_path = importlib.import_module(__package__).__path__
    scalar, event = list(SEED_SCALAR), list(SEED_EVENT)
    for m in sorted(pkgutil.iter_modules(pkg_path), key=lambda m: m.name):
        if m.name in ("templates", "matcher"):
            continue
        module = importlib.import_module(f"{__package__}.{m.name}")
        scalar += list(getattr(module, "SCALAR", ()))
        event += list(getattr(module, "EVENT", ()))
    return _refinements_first(scalar), _refinements_first(event)


def registered(table: str, position: int) -> Template:
    """The template at ``position`` of SCALAR_TEMPLATES or EVENT_TEMPLATES (how one is unpickled)."""
    return __getattr__(table)[position]


def torch_losses(option: str) -> tuple[str, ...]:
    """The names of the losses whose torch form takes ``option``, in the order they are tried."""
    everything = (*__getattr__("SCALAR_TEMPLATES"), *__getattr__("EVENT_TEMPLATES"))
    names = [t.name for t in everything if t.torch_form and option in t.torch_form.options]
    return tuple(dict.fromkeys(names))


def _refinements_first(templates):
    """A template that refines a seed loss (same name, plus inner parameters such as a
    rescaled target) is tried before the plain one: when its calibration finds a value,
    the more specific statement is the one to prove; when it finds none, the plain
    template still matches."""
    seed_names = {t.name for t in (*SEED_SCALAR, *SEED_EVENT)}
    refined = [t for t in templates if t.inner and t.name in seed_names]
    return tuple(refined + [t for t in templates if t not in refined])


def __getattr__(name):
    # Collected on first use, not at import: a family module imports Template from here, and
    # collecting while it is half-imported would miss its templates (when it is imported first).
    if name in ("SCALAR_TEMPLATES", "EVENT_TEMPLATES"):
        if name in globals():
            return globals()[name]
        scalar, event = _collect()
        globals().update(SCALAR_TEMPLATES=scalar, EVENT_TEMPLATES=event)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
