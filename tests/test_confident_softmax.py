"""Cross-entropy and its gradient where the model is confidently right.

At logits [30, 0, -30] with the first class true the loss is log(1 + e^-30 + e^-60) = 9.4e-14
and the gradient's first entry is minus that much. Written as logsumexp(z) sum_k y_k - sum_k y_k
z_k, the loss is 30.0000000000000937 - 30, which keeps 2 digits; softmax(z) - y keeps the
rounding of 1 - 1e-13. The oracle is mpmath at 50 digits, from the definition (no symlik code).
"""

import mpmath
import numpy as np
import pytest

import symlik
from harness import as_backend_array, installed_backends

CONFIDENT = [
    ([30.0, 0.0, -30.0], [1.0, 0.0, 0.0]),
    ([0.0, 35.0, -5.0], [0.0, 1.0, 0.0]),
    ([1e3, 960.0, 0.0], [1.0, 0.0, 0.0]),
    ([30.0, 30.0, -10.0], [0.5, 0.5, 0.0]),  # a tie at the max, a probability target
    ([1.0, 2.0, 3.0], [0.2, 0.3, 0.5]),  # nothing confident: must not get worse
]


def _log_softmax_mp(z):
    with mpmath.workdps(50):
        z = [mpmath.mpf(v) for v in z]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
        return [v - lse for v in z]


def _loss_mp(z, y, scale=1.0):
    with mpmath.workdps(50):
        return float(-mpmath.fsum(mpmath.mpf(w) * v for w, v in zip(y, _log_softmax_mp(z))) / scale)


def _grad_mp(z, y, scale=1.0):
    # d/dz_j of -sum_k y_k log softmax(z)_k = (sum_k y_k) softmax(z)_j - y_j
    with mpmath.workdps(50):
        total = mpmath.fsum(mpmath.mpf(w) for w in y)
        return [float((total * mpmath.exp(v) - mpmath.mpf(w)) / scale) for w, v in zip(y, _log_softmax_mp(z))]


def _close(got, want, rtol=4e-15):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.all(np.abs(got - want) <= rtol * np.abs(want) + 1e-300), (got, want)


@pytest.mark.parametrize("backend", installed_backends())
@pytest.mark.parametrize("z, y", CONFIDENT)
def test_cross_entropy_with_a_probability_target_keeps_every_digit(backend, z, y):
    kernel = symlik.compile("categorical", link="softmax", reduction="none", backend=backend)
    got = kernel(as_backend_array(backend, np.array([z])), as_backend_array(backend, np.array([y])))
    _close(np.asarray(got, dtype=float)[0], _loss_mp(z, y))


@pytest.mark.parametrize("backend", installed_backends())
@pytest.mark.parametrize("z, y", [c for c in CONFIDENT if max(c[1]) == 1.0])
def test_cross_entropy_with_a_class_index_keeps_every_digit(backend, z, y):
    kernel = symlik.compile("categorical", link="softmax", reduction="none", backend=backend)
    got = kernel(as_backend_array(backend, np.array([z])), as_backend_array(backend, np.array([int(np.argmax(y))])))
    _close(np.asarray(got, dtype=float)[0], _loss_mp(z, y))


# Not the tie: at [30, 30, -10] with target [.5, .5, 0] the gradient is -1.1e-18 in each tied
# entry, whose condition number in the logits is 1.4e19 (sum_i |z_i df/dz_i| = 15 against
# |f| = 1.1e-18), so no algorithm owes it a digit.
@pytest.mark.parametrize("z, y", [c for c in CONFIDENT if c[0][0] != c[0][1]])
def test_cross_entropy_gradient_keeps_every_digit(z, y):
    kernel = symlik.compile("categorical", link="softmax", reduction="none")
    (dense,) = kernel.grad(np.array([z]), np.array([y]))
    _close(dense[0], _grad_mp(z, y))
    if max(y) == 1.0:
        (index,) = kernel.grad(np.array([z]), np.array([int(np.argmax(y))]))
        _close(index[0], _grad_mp(z, y))


@pytest.mark.parametrize("target", ["nll", "loss"])
@pytest.mark.parametrize("y", [[10.0, 0.0, 0.0], [1e6, 1.0, 0.0]])
def test_multinomial_counts_keep_every_digit(target, y):
    # [1e6, 1, 0]: the loss's gradient is softmax - y/n = 1e-6 - 9.4e-14 at the first class,
    # where y/n rounded first would leave 10 digits
    z, n = [30.0, 0.0, -30.0], sum(y)
    kernel = symlik.compile("multinomial", link="softmax", target=target, reduction="none")
    value, (grad,) = kernel.value_and_grad(np.array([z]), np.array([y]), np.array([n]))
    scale = n if target == "loss" else 1.0  # the loss is the NLL's cross-entropy part over n
    # y = [n, 0, 0]: the multinomial coefficient is 1, so the NLL is the cross-entropy alone
    if y[1] == 0:
        _close(value[0], _loss_mp(z, y, scale))
    _close(grad[0], _grad_mp(z, y, scale))
    (alone,) = kernel.grad(np.array([z]), np.array([y]), np.array([n]))
    _close(alone[0], _grad_mp(z, y, scale))


def test_value_and_grad_agree_with_the_separate_kernels():
    # the fused value_and_grad prints the same helpers (after common-subexpression elimination)
    z, y = np.array([[30.0, 0.0, -30.0], [1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    kernel = symlik.compile("categorical", link="softmax", reduction="none")
    value, (grad,) = kernel.value_and_grad(z, y)
    for row in range(2):
        _close(value[row], _loss_mp(z[row], y[row]))
        _close(grad[row], _grad_mp(z[row], y[row]))
