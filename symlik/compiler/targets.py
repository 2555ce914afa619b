"""The compile targets: what a kernel computes for each observation.

Listed here, apart from the Plan (which needs SymPy), because ``compile()``
checks a target's name before it looks in the kernel cache, and a warm
cache hit never imports SymPy.

==========  ====================================================  ===============
target      per observation                                       shape
==========  ====================================================  ===============
loss        the canonical loss (``d.loss.expr``)                  ``[...]``
nll         the exact negative log-likelihood (``d.nll``)         ``[...]``
grad        the loss's gradient in the predicted inputs           ``[..., P]``
score       d log p / d theta                                     ``[..., P]``
hessian     d^2 log p / d theta d theta^T                         ``[..., P, P]``
fisher      E_y[-Hessian], the Fisher information                 ``[..., P, P]``
grad_hess   the NLL's gradient and Hessian in the predicted       ``[..., 2, P]`` or
            inputs (for gradient boosting; ``hessian=``:          ``[..., 1 + P, P]``
            exact, fisher or exact_clipped)
==========  ====================================================  ===============

P is the number of predicted inputs; with one (P = 1) the trailing axes are
dropped, so a score, Hessian or Fisher information is ``[...]`` like a loss.
``reduction`` averages or sums over the observations (the leading axes) only.
"""

SCALAR_TARGETS = ("loss", "nll")
# Per-observation vectors and matrices over the predicted inputs (scalar distributions only).
INFORMATION_TARGETS = ("score", "hessian", "fisher")
TARGETS = (*SCALAR_TARGETS, "grad", *INFORMATION_TARGETS, "grad_hess")

# grad_hess: which second derivative, and whether its diagonal or the whole matrix.
#   exact          d^2 NLL / dz dz^T, as derived
#   fisher         E_y[d^2 NLL / dz dz^T], the expected Hessian (Fisher information): never negative
#   exact_clipped  the exact Hessian with its diagonal clipped at 0 (what XGBoost does to negative Hessians)
HESSIANS = ("exact", "fisher", "exact_clipped", "softprob", "multiclass")  # the last two: softmax heads only
HESSIAN_FORMS = ("diagonal", "full")
