"""Classification losses that are not negative log-likelihoods: focal loss and poly-1.

Both reweight the cross-entropy so that confident, correct predictions count
less (focal) or more (poly-1). Their implied densities exp(-loss) do not sum
to one in a way that is free of the prediction (``symlik.implied_density``
derives the missing -log Z(p) term), so the matcher never proves an NLL to be
one of them: they have inner parameters and no ``calibrate``, which the
matcher reads as "nothing to try".

Reference implementations: optax's ``sigmoid_focal_loss`` (alpha=None and
alpha given) and ``poly_loss_cross_entropy`` (epsilon); the tests compare
these templates with optax's values.
"""

from __future__ import annotations

import sympy as sp

from symlik.losses.templates import Template


def _focal(y, p, gamma):
    """-(1 - p_t)^gamma log p_t with p_t = p for y = 1 and 1 - p for y = 0, written for y in
    {0, 1} (and, as optax does, for soft labels y in [0, 1]: the cross-entropy times
    (1 - p_t)^gamma with p_t = y p + (1 - y)(1 - p))."""
    p_t = y * p + (1 - y) * (1 - p)
    return -(y * sp.log(p) + (1 - y) * sp.log(1 - p)) * (1 - p_t) ** gamma


focal = Template(
    "focal",
    "focal loss (optax's sigmoid_focal_loss, alpha=None)",
    ("prob",),
    _focal,
    "Focal",
    inner=("gamma",),
    torch="(no built-in; torchvision.ops.sigmoid_focal_loss(alpha=-1))",
    doc="-(1 - p_t)^gamma log p_t, p_t = y p + (1 - y)(1 - p)",
)

alpha_focal = Template(
    "alpha_focal",
    "alpha-balanced focal loss (optax's sigmoid_focal_loss with alpha)",
    ("prob",),
    lambda y, p, gamma, alpha: (alpha * y + (1 - alpha) * (1 - y)) * _focal(y, p, gamma),
    "Focal",
    inner=("gamma", "alpha"),
    torch="(no built-in; torchvision.ops.sigmoid_focal_loss(alpha=alpha))",
    doc="-alpha_t (1 - p_t)^gamma log p_t, alpha_t = alpha y + (1 - alpha)(1 - y)",
)

poly1 = Template(
    "poly1",
    "poly-1 cross-entropy (optax's poly_loss_cross_entropy)",
    ("prob",),
    # the summand over classes: sum_k y_k (1 - p_k) = 1 - p_t for a one-hot y, as in optax
    lambda y, p, epsilon: -y * sp.log(p) + epsilon * y * (1 - p),
    "Poly1",
    event=True,
    inner=("epsilon",),
    torch="(no built-in; cross_entropy + epsilon * (1 - p_t))",
    doc="-sum_k y_k log p_k + epsilon sum_k y_k (1 - p_k)",
)

SCALAR = (focal, alpha_focal)
EVENT = (poly1,)
