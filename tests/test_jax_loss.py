"""symlik.jax.loss against optax and jax.grad of hand-written losses: values, gradients per
reduction, under jax.jit; skipped without JAX or optax."""

import contextlib

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import symlik  # noqa: E402
import symlik.jax  # noqa: E402

rng = np.random.default_rng(12)
N, C = 24, 5


@contextlib.contextmanager
def _x64():
    """x64 in every thread: jax.enable_x64() is thread-local, and a jitted function's host
    callback may run on another thread, where JAX would narrow its float64 results."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def _hand_gauss(mu, sigma, y):
    return jnp.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2


# name -> (loss arguments, predicted inputs, other inputs, per-observation reference)
CASES = {
    "ce": (("categorical",), {"link": "softmax"}, lambda: [3 * rng.normal(size=(N, C))], lambda: [rng.integers(0, C, N)],
           optax.softmax_cross_entropy_with_integer_labels),
    "ce_probs": (("categorical",), {"link": "softmax"}, lambda: [3 * rng.normal(size=(N, C))],
                 lambda: [rng.dirichlet(np.ones(C), N)], optax.softmax_cross_entropy),
    "bce": (("bernoulli",), {"link": "logit"}, lambda: [4 * rng.normal(size=N)], lambda: [(rng.random(N) < 0.5) * 1.0],
            optax.sigmoid_binary_cross_entropy),
    "mse": (("normal",), {}, lambda: [rng.normal(size=N)], lambda: [rng.normal(size=N)], optax.squared_error),
    "poisson": (("poisson",), {"link": "log"}, lambda: [rng.normal(size=N)], lambda: [rng.poisson(2.0, N) * 1.0],
                lambda z, y: jnp.exp(z) - y * z),
    "gauss": (("normal",), {"predict": ("mu", "sigma")}, lambda: [rng.normal(size=N), 0.5 + rng.random(N)],
              lambda: [rng.normal(size=N)], _hand_gauss),
}


def _reduce(per, reduction):
    return {"mean": jnp.mean, "sum": jnp.sum, "none": lambda a: a}[reduction](per)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_optax_and_hand_written(name, reduction, jit):
    args, kwargs, make_preds, make_rest, per_observation = CASES[name]
    with _x64():
        preds = [jnp.asarray(a) for a in make_preds()]
        rest = [jnp.asarray(a) for a in make_rest()]
        ours = symlik.jax.loss(*args, reduction=reduction, **kwargs)

        def theirs(*p):
            return _reduce(per_observation(*p, *rest), reduction)

        def mine(*p):
            return ours(*p, *rest)

        cot = jnp.asarray(rng.random(np.shape(theirs(*preds))))  # a non-uniform cotangent for "none"

        def scalar(f):
            return lambda *p: jnp.sum(f(*p) * cot)

        argnums = tuple(range(len(preds)))
        value_fn = jax.jit(mine) if jit else mine
        grad_ours = jax.grad(scalar(mine), argnums=argnums)
        if jit:
            grad_ours = jax.jit(grad_ours)
        np.testing.assert_allclose(value_fn(*preds), theirs(*preds), rtol=1e-12, atol=1e-14)
        for a, b in zip(grad_ours(*preds), jax.grad(scalar(theirs), argnums=argnums)(*preds)):
            assert a.shape == b.shape and a.dtype == jnp.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_value_and_grad_under_jit_trains_a_linear_model():
    """Ten steps of gradient descent on a softmax regression follow optax's loss exactly."""
    with _x64():
        _train_and_compare()


def _train_and_compare():
    x = jnp.asarray(rng.normal(size=(64, 4)))
    y = jnp.argmax(x @ jnp.asarray(rng.normal(size=(4, 3))), axis=-1)  # learnable labels
    ce = symlik.jax.loss("categorical", link="softmax")

    def step(loss_fn):
        @jax.jit
        def update(w):
            value, g = jax.value_and_grad(lambda w: loss_fn(x @ w, y))(w)
            return w - 0.5 * g, value
        return update

    ours, theirs = step(ce), step(lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean())
    w1 = w2 = jnp.zeros((4, 3))
    curve1, curve2 = [], []
    for _ in range(10):
        w1, v1 = ours(w1)
        w2, v2 = theirs(w2)
        curve1.append(v1)
        curve2.append(v2)
    assert curve2[-1] < 0.9 * curve2[0]
    np.testing.assert_allclose(curve1, curve2, rtol=1e-12)


def test_weight_and_float32():
    z = jnp.asarray(4 * rng.normal(size=N), dtype=jnp.float32)
    y = jnp.asarray((rng.random(N) < 0.5) * 1.0, dtype=jnp.float32)
    w = jnp.asarray(rng.random(N), dtype=jnp.float32)
    bce = symlik.jax.loss("bernoulli", link="logit")

    def theirs(z):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(z, y) * w)

    value = bce(z, y, weight=w)
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, theirs(z), rtol=2e-6)
    g = jax.grad(lambda z: bce(z, y, weight=w))(z)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, jax.grad(theirs)(z), rtol=1e-5, atol=1e-7)


def test_bad_input_raises_symlik_errors():
    gauss = symlik.jax.loss("normal", predict=("mu", "sigma"))
    with pytest.raises(symlik.ConstraintError, match="sigma must"):
        gauss(jnp.zeros(3), -jnp.ones(3), jnp.zeros(3))
    with pytest.raises(symlik.SymlikError, match="missing input"):
        gauss(jnp.zeros(3), jnp.ones(3))
    assert gauss.inputs == ("mu", "sigma", "y") and gauss.predicted == ("mu", "sigma")
