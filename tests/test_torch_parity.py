"""Loss options against torch.nn.functional: values and gradients, float32 and float64.

The oracle is torch (2.13.0; skipped without it). Tolerances follow the issue:
rtol 1e-6 in float32 and 1e-12 in float64, relative to the value or, where
the value is much smaller than the terms that cancel in it, to the magnitude
of those terms (``scale``). Gradients on torch's side come from autograd on
torch's own loss; on symlik's side from ``Kernel.grad``, the symbolic
gradient of the option-adjusted loss (float64 gradients compared at the
GRAD_RTOL below).

Known, documented discrepancies (docs/loss-options.md) are asserted as such:
torch's clamp of the Gaussian variance is straight-through for the gradient,
torch's binary_cross_entropy clamps log at -100, and torch's
binary_cross_entropy_with_logits loses digits at y = 0, z << 0.
"""

import itertools

import numpy as np
import pytest

import symlik

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = {np.float32: 1e-6, np.float64: 1e-12}
GRAD_RTOL = {np.float32: 1e-6, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]
N, C = 12, 4


def dtype_id(dt):
    return np.dtype(dt).name


def close(got, want, dtype, scale=0.0, rtol=None):
    """|got - want| <= rtol * (|want| + scale), elementwise; nan must meet nan."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    rtol = RTOL[dtype] if rtol is None else rtol
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    ok = ~np.isnan(want)
    bound = rtol * (np.abs(want) + scale)
    err = np.abs(got - want)
    assert np.all(err[ok] <= np.broadcast_to(bound, err.shape)[ok]), (
        f"max error {np.max(err[ok]):.3g} > bound {np.min(np.broadcast_to(bound, err.shape)[ok]):.3g}; "
        f"got {got}, want {want}"
    )


def t(a, dtype=None, grad=False):
    a = np.asarray(a)
    out = torch.tensor(a if dtype is None else a.astype(dtype))
    return out.requires_grad_(True) if grad else out


def fd_grad(f, x, h=1e-4):
    """d f / d x for scalar f, by central differences with one Richardson step (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[idx]))

        def diff(s):
            up, down = x.copy(), x.copy()
            up[idx] += s
            down[idx] -= s
            return (f(up) - f(down)) / (2 * s)

        g[idx] = (4 * diff(step / 2) - diff(step)) / 3
    return g


def check_grad(torch_grad, symlik_grad, dtype):
    """Gradients agree to GRAD_RTOL relative to the largest gradient entry."""
    scale = np.max(np.abs(symlik_grad))
    close(torch_grad, symlik_grad, dtype, scale=scale, rtol=GRAD_RTOL[dtype])


# ---------------------------------------------------------------------------
# cross_entropy: class-index targets
# ---------------------------------------------------------------------------

CE_COMBOS = list(itertools.product([None, 0.2], [False, True], [None, -100, 2]))


def ce_case(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (N, C)).astype(dtype)
    y = rng.integers(0, C, N)
    alpha = rng.uniform(0.2, 2.0, C).astype(dtype)
    return z, y, alpha


def ce_options(smoothing, weighted, ignore, alpha):
    sym, ref = {}, {}
    if smoothing is not None:
        sym["label_smoothing"] = ref["label_smoothing"] = smoothing
    if weighted:
        sym["class_weight"] = alpha
        ref["weight"] = t(alpha)
    if ignore is not None:
        sym["ignore_index"] = ref["ignore_index"] = ignore
    return sym, ref


def ce_targets(y, ignore):
    y = y.copy()
    if ignore is not None:
        y[[1, 5, 7]] = ignore  # a few ignored targets (class 2 itself when ignore_index = 2)
    return y


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing,weighted,ignore", CE_COMBOS)
def test_cross_entropy_index_targets(smoothing, weighted, ignore, reduction, dtype):
    z, y, alpha = ce_case(dtype=dtype)
    y = ce_targets(y, ignore)
    sym, ref = ce_options(smoothing, weighted, ignore, alpha)
    k = symlik.compile("categorical", link="softmax", reduction=reduction, **sym)
    got = k(z, y)
    want = F.cross_entropy(t(z), t(y), reduction=reduction, **ref).numpy()
    assert np.asarray(got).dtype == dtype
    close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("smoothing,weighted,ignore", CE_COMBOS)
def test_cross_entropy_index_targets_gradient(smoothing, weighted, ignore, dtype):
    z, y, alpha = ce_case(seed=1, dtype=dtype)
    y = ce_targets(y, ignore)
    sym, ref = ce_options(smoothing, weighted, ignore, alpha)
    zt = t(z, grad=True)
    F.cross_entropy(zt, t(y), **ref).backward()
    alpha64 = sym.get("class_weight")
    sym64 = {**sym, "class_weight": alpha64.astype(np.float64)} if weighted else sym
    k64 = symlik.compile("categorical", link="softmax", reduction="mean", **sym64)
    check_grad(zt.grad.numpy(), k64.grad(z.astype(np.float64), y)[0], dtype)


def test_ignore_index_with_label_smoothing_and_class_weights():
    """The combination torch users reported: ignored rows leave both parts of the smoothed
    loss and the weighted denominator (torch issue #73205 and its fix)."""
    z, y, alpha = ce_case(seed=3)
    y[:4] = -1
    k = symlik.compile("categorical", link="softmax", label_smoothing=0.3, class_weight=alpha, ignore_index=-1)
    want = F.cross_entropy(t(z), t(y), weight=t(alpha), label_smoothing=0.3, ignore_index=-1).item()
    close(k(z, y), want, np.float64)
    # and by hand: the smoothed cross-entropy of the kept rows over their target weights
    keep = y != -1
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    q = 0.7 * np.eye(C)[y[keep]] + 0.3 / C
    by_hand = -(alpha * q * logp[keep]).sum() / alpha[y[keep]].sum()
    close(k(z, y), by_hand, np.float64, rtol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("smoothing,weighted", [(None, False), (0.1, False), (None, True), (0.1, True)])
def test_all_targets_ignored(smoothing, weighted, dtype):
    """torch's mean over no kept target is 0/0 = nan; sum is 0; none is all zeros. symlik matches."""
    z, _, alpha = ce_case(dtype=dtype)
    y = np.full(N, -100)
    sym, ref = ce_options(smoothing, weighted, -100, alpha)
    for reduction in REDUCTIONS:
        got = symlik.compile("categorical", link="softmax", reduction=reduction, **sym)(z, y)
        want = F.cross_entropy(t(z), t(y), reduction=reduction, **ref).numpy()
        close(got, want, dtype)
    assert np.isnan(symlik.compile("categorical", link="softmax", **sym)(z, y))


def test_zero_class_weight_costs_nothing():
    z, y, alpha = ce_case(seed=4)
    alpha[y[0]] = 0.0
    for smoothing in (None, 0.2):
        sym, ref = ce_options(smoothing, True, None, alpha)
        k = symlik.compile("categorical", link="softmax", reduction="none", **sym)
        close(k(z, y), F.cross_entropy(t(z), t(y), reduction="none", **ref).numpy(), np.float64)
        close(k(z, np.eye(C)[y]), F.cross_entropy(t(z), t(np.eye(C)[y]), reduction="none", **ref).numpy(), np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_cross_entropy_extreme_logits(dtype):
    """Confident predictions: torch's log_softmax and symlik's A (logsumexp - weighted mean logit)."""
    big = 1000.0 if dtype == np.float64 else 80.0
    z = np.array([[big, 0, 0, 0], [-big, 0, 0, 0], [30, 0, 0, 0], [0, 0, 0, 0], [big, -big, 30, -30]], dtype)
    y = np.array([0, 0, 0, 1, 0])
    alpha = np.array([0.5, 1.0, 2.0, 1.5], dtype)
    for sym, ref in (({}, {}), ({"class_weight": alpha}, {"weight": t(alpha)}),
                     ({"label_smoothing": 0.1, "class_weight": alpha}, {"label_smoothing": 0.1, "weight": t(alpha)})):
        got = symlik.compile("categorical", link="softmax", reduction="none", **sym)(z, y)
        want = F.cross_entropy(t(z), t(y), reduction="none", **ref).numpy()
        assert np.all(np.isfinite(got))
        # torch's log_softmax - z_y rounds at the size of the largest logit (a true 2.8e-13 at
        # [30, 0, 0, 0] comes out 0); symlik's log1p form keeps it: agree to eps * |z|_max absolute.
        close(got, want, dtype, scale=np.abs(z).max(axis=-1) * float(np.finfo(dtype).eps) / RTOL[dtype])


# ---------------------------------------------------------------------------
# cross_entropy: probability targets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing,weighted", [(None, False), (0.15, False), (None, True), (0.15, True)])
def test_cross_entropy_probability_targets(smoothing, weighted, reduction, dtype):
    z, _, alpha = ce_case(seed=5, dtype=dtype)
    q = np.random.default_rng(6).dirichlet(np.ones(C), N).astype(dtype)
    sym, ref = ce_options(smoothing, weighted, None, alpha)
    k = symlik.compile("categorical", link="softmax", reduction=reduction, **sym)
    close(k(z, q), F.cross_entropy(t(z), t(q), reduction=reduction, **ref).numpy(), dtype)
    if reduction == "mean":
        zt = t(z, grad=True)
        F.cross_entropy(zt, t(q), **ref).backward()
        sym64 = {**sym, "class_weight": alpha.astype(np.float64)} if weighted else sym
        k64 = symlik.compile("categorical", link="softmax", **sym64)
        check_grad(zt.grad.numpy(), k64.grad(z.astype(np.float64), q.astype(np.float64))[0], dtype)


def test_probability_targets_refuse_a_nonnegative_ignore_index():
    z, y, _ = ce_case()
    q = np.eye(C)[y]
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(t(z), t(q), ignore_index=1)
    with pytest.raises(symlik.SymlikError, match="ignore_index=1 needs class-index targets"):
        symlik.compile("categorical", link="softmax", ignore_index=1)(z, q)
    # a negative ignore_index has no effect on probability targets, in both
    k = symlik.compile("categorical", link="softmax", ignore_index=-100)
    close(k(z, q), F.cross_entropy(t(z), t(q), ignore_index=-100).item(), np.float64)


def test_per_sample_weight_on_cross_entropy():
    """symlik's per-sample weight rescales each term; the class-weighted mean keeps torch's denominator."""
    z, y, alpha = ce_case(seed=7)
    w = np.random.default_rng(8).uniform(0, 2, N)
    k = symlik.compile("categorical", link="softmax", class_weight=alpha, label_smoothing=0.1)
    per = F.cross_entropy(t(z), t(y), weight=t(alpha), label_smoothing=0.1, reduction="none").numpy()
    close(k(z, y, weight=w), (w * per).sum() / alpha[y].sum(), np.float64)


# ---------------------------------------------------------------------------
# binary_cross_entropy with logits
# ---------------------------------------------------------------------------

BCE_COMBOS = list(itertools.product([None, "scalar", "per_class"], [False, True], [False, True]))


def bce_case(pos, soft, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shape = (N, C) if pos == "per_class" else (N,)
    z = rng.normal(0, 3, shape).astype(dtype)
    y = (rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape)).astype(dtype)
    pw = {None: None, "scalar": np.asarray(3.0, dtype), "per_class": rng.uniform(0.5, 4, C).astype(dtype)}[pos]
    w = rng.uniform(0, 2, shape).astype(dtype)
    return z, y, pw, w


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos,soft,weighted", BCE_COMBOS)
def test_bce_with_logits(pos, soft, weighted, reduction, dtype):
    z, y, pw, w = bce_case(pos, soft, dtype)
    sym = {}
    if pw is not None:
        sym["pos_weight"] = pw
    if soft:
        sym["soft_targets"] = True
    k = symlik.compile("bernoulli", link="logit", reduction=reduction, **sym)
    got = k(z, y, weight=w if weighted else None)
    want = F.binary_cross_entropy_with_logits(
        t(z), t(y), weight=t(w) if weighted else None, pos_weight=None if pw is None else t(pw), reduction=reduction
    ).numpy()
    assert np.asarray(got).dtype == dtype
    scale = (1 + (0 if pw is None else np.max(pw))) * np.abs(z) * (w if weighted else 1)
    close(got, want, dtype, scale=scale if reduction == "none" else np.sum(scale))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("pos,soft,weighted", BCE_COMBOS)
def test_bce_with_logits_gradient(pos, soft, weighted, dtype):
    z, y, pw, w = bce_case(pos, soft, dtype, seed=2)
    sym = {"soft_targets": True} if soft else {}
    if pw is not None:
        sym["pos_weight"] = pw.astype(np.float64)
    zt = t(z, grad=True)
    F.binary_cross_entropy_with_logits(
        zt, t(y), weight=t(w) if weighted else None, pos_weight=None if pw is None else t(pw)
    ).backward()
    k = symlik.compile("bernoulli", link="logit", **sym)
    y64, w64 = y.astype(np.float64), (w.astype(np.float64) if weighted else None)
    check_grad(zt.grad.numpy(), k.grad(z.astype(np.float64), y64, weight=w64)[0], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_pos_weight_at_extreme_logits(dtype):
    """Finite where the truth is finite, and equal to torch's value up to the rounding of
    torch's own form, (1 - y) z - (1 + (w - 1) y) log sigmoid(z), whose terms are of size |z|."""
    import mpmath

    big = (1000.0, 700.0, 100.0, 30.0) if dtype == np.float64 else (100.0, 80.0, 30.0)
    z = np.array([s * v for v in big for s in (1, -1)] + [1.0, -1.0, 0.0], dtype)
    for yv in (0.0, 1.0, 0.5):
        y = np.full_like(z, yv)
        k = symlik.compile("bernoulli", link="logit", reduction="none", pos_weight=3.0, soft_targets=True)
        got = k(z, y)
        want = F.binary_cross_entropy_with_logits(t(z), t(y), pos_weight=t(np.asarray(3.0, dtype)), reduction="none")
        assert np.all(np.isfinite(got))
        close(got, want.numpy(), dtype, scale=4 * np.abs(z) * np.finfo(dtype).eps / RTOL[dtype] + 1e-300)
        # symlik is also right to the last bits where torch's form cancels (float64):
        if dtype == np.float64:
            mpmath.mp.dps = 50
            truth = [float(3 * yv * mpmath.log1p(mpmath.exp(-mpmath.mpf(v))) + (1 - yv) * mpmath.log1p(mpmath.exp(mpmath.mpf(v))))
                     for v in z]
            close(got, truth, np.float64, rtol=4e-16)
        # gradients at the extremes: torch autograd vs symlik's, in this dtype (finite, and sigmoid-exact)
        zt = t(z, grad=True)
        F.binary_cross_entropy_with_logits(zt, t(y), pos_weight=t(np.asarray(3.0, dtype)), reduction="sum").backward()
        (g,) = k.grad(z, y)
        assert g.dtype == dtype and np.all(np.isfinite(g))
        close(zt.grad.numpy(), g, dtype, scale=4.0, rtol=GRAD_RTOL[dtype])


def test_torch_loses_digits_where_symlik_does_not():
    """Documented: at y = 0, z = -30 torch's with-logits form cancels (about 1% error); symlik's is exact."""
    k = symlik.compile("bernoulli", link="logit", reduction="none")
    truth = np.log1p(np.exp(-30.0))  # softplus(-30), computed directly
    ours = k(np.array([-30.0]), np.array([0.0]))[0]
    theirs = F.binary_cross_entropy_with_logits(t([-30.0]), t([0.0]), reduction="none").item()
    assert abs(ours - truth) <= 1e-16 * truth
    assert abs(theirs - truth) > 1e-3 * truth


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities(reduction, dtype):
    rng = np.random.default_rng(9)
    p = rng.uniform(0.01, 0.99, N).astype(dtype)
    y = rng.uniform(0, 1, N).astype(dtype)
    w = rng.uniform(0, 2, N).astype(dtype)
    k = symlik.compile("bernoulli", reduction=reduction, soft_targets=True)
    close(k(p, y, weight=w), F.binary_cross_entropy(t(p), t(y), weight=t(w), reduction=reduction).numpy(), dtype, scale=10.0)
    # pos_weight on probabilities is the with-logits loss at logit(p)
    kp = symlik.compile("bernoulli", reduction=reduction, soft_targets=True, pos_weight=2.5)
    z = np.log(p.astype(np.float64)) - np.log1p(-p.astype(np.float64))
    want = F.binary_cross_entropy_with_logits(t(z), t(y.astype(np.float64)), pos_weight=t(2.5), reduction=reduction)
    close(kp(p, y), want.numpy(), dtype, scale=10.0)


def test_bce_log_clamp_is_torchs_not_ours():
    """Documented: torch's binary_cross_entropy clamps log(p) at -100; symlik returns the exact NLL."""
    k = symlik.compile("bernoulli", reduction="none")
    assert np.isinf(k(np.array([0.0]), np.array([1]))[0])
    assert F.binary_cross_entropy(t([0.0]), t([1.0]), reduction="none").item() == 100.0
    p = np.array([1e-30])  # far from the clamp: both agree
    close(k(p, np.array([1])), F.binary_cross_entropy(t(p), t([1.0]), reduction="none").numpy(), np.float64)


# ---------------------------------------------------------------------------
# gaussian_nll
# ---------------------------------------------------------------------------

GAUSS_COMBOS = list(itertools.product([None, 1e-6, 0.5], [False, True], [False, True]))


def gauss_case(dtype, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 1, N).astype(dtype)
    sigma = rng.lognormal(-0.5, 0.7, N).astype(dtype)
    sigma[:2] = (0.0, 1e-4)  # a zero variance and one below every eps: the clamp decides
    y = rng.normal(0, 1, N).astype(dtype)
    w = rng.uniform(0, 2, N).astype(dtype)
    return mu, sigma, y, w


def gauss_scale(mu, sigma, y, eps):
    var = np.maximum(sigma.astype(np.float64) ** 2, eps)
    return 0.5 * (np.abs(np.log(var)) + (y - mu).astype(np.float64) ** 2 / var + np.log(2 * np.pi))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps,full,weighted", GAUSS_COMBOS)
def test_gaussian_nll(eps, full, weighted, reduction, dtype):
    mu, sigma, y, w = gauss_case(dtype)
    sym = {"full": True} if full else {}
    if eps is None:  # no clamp in symlik: compare where torch's default clamp does nothing
        mu, sigma, y, w = mu[2:], sigma[2:], y[2:], w[2:]
    else:
        sym["eps"] = eps
    k = symlik.compile("normal", predict=("mu", "sigma"), reduction=reduction, **sym)
    got = k(mu, sigma, y, weight=w if weighted else None)
    per = F.gaussian_nll_loss(t(mu), t(y), t(sigma) ** 2, full=full, eps=1e-6 if eps is None else eps, reduction="none")
    want = (per * (t(w) if weighted else 1)).numpy()
    want = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
    if not weighted:
        close(F.gaussian_nll_loss(t(mu), t(y), t(sigma) ** 2, full=full, eps=1e-6 if eps is None else eps,
                                  reduction=reduction).numpy(), want, dtype, rtol=4 * RTOL[dtype])
    scale = gauss_scale(mu, sigma, y, eps or 0.0) * (w if weighted else 1)
    close(got, want, dtype, scale=scale if reduction == "none" else np.sum(scale))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_gradient_away_from_the_clamp(full, dtype):
    mu, sigma, y, _ = gauss_case(dtype, seed=3)
    mu, sigma, y = mu[2:], sigma[2:], y[2:]
    mt, st = t(mu, grad=True), t(sigma, grad=True)
    F.gaussian_nll_loss(mt, t(y), st**2, full=full, eps=1e-6).backward()
    k = symlik.compile("normal", predict=("mu", "sigma"), eps=1e-6, full=full)
    m64, s64, y64 = mu.astype(float), sigma.astype(float), y.astype(float)
    g_mu, g_sigma = k.grad(m64, s64, y64)
    check_grad(mt.grad.numpy(), g_mu, dtype)
    check_grad(st.grad.numpy(), g_sigma, dtype)


def test_gaussian_nll_clamp_gradient_is_straight_through_in_torch():
    """Documented discrepancy. torch clamps var under no_grad, so where var < eps its gradient
    is that of the loss at var = eps, passed straight to var; the clamped function symlik
    compiles is flat there, so its derivative in sigma is 0. Values agree."""
    eps = 0.5
    mu, y = np.zeros(3), np.array([1.0, 0.2, -2.0])
    sigma = np.array([0.3, 0.5, 0.1])  # every sigma^2 < eps
    st = t(sigma, grad=True)
    loss = F.gaussian_nll_loss(t(mu), t(y), st**2, eps=eps, reduction="sum")
    loss.backward()
    k = symlik.compile("normal", predict=("mu", "sigma"), eps=eps, reduction="sum")
    close(k(mu, sigma, y), loss.item(), np.float64)
    straight_through = 2 * sigma * 0.5 * (1 / eps - (y - mu) ** 2 / eps**2)  # d/dsigma of var, times dL/dvar at eps
    close(st.grad.numpy(), straight_through, np.float64, rtol=1e-13)
    assert np.all(fd_grad(lambda s: k(mu, s, y), sigma, h=1e-7) == 0)
    assert np.all(k.grad(mu, sigma, y)[1] == 0)  # the symbolic gradient of the clamped loss agrees


def test_gaussian_nll_eps_admits_zero_variance_only():
    k = symlik.compile("normal", predict=("mu", "sigma"), eps=1e-6)
    assert np.isfinite(k(np.zeros(2), np.zeros(2), np.ones(2)))
    with pytest.raises(symlik.ConstraintError, match="sigma must be >= 0"):
        k(np.zeros(2), np.array([1.0, -1.0]), np.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(t(np.zeros(2)), t(np.ones(2)), t(np.array([1.0, -1.0])))


# ---------------------------------------------------------------------------
# Huber and smooth L1; MSE and MAE with weights
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_and_smooth_l1(delta, reduction, dtype):
    rng = np.random.default_rng(10)
    mu, y, w = rng.normal(0, 2, N).astype(dtype), rng.normal(0, 2, N).astype(dtype), rng.uniform(0, 2, N).astype(dtype)
    y[0] = mu[0] + np.asarray(delta, dtype)  # exactly on the seam
    k = symlik.compile("huber", reduction=reduction, fixed={"delta": delta})
    close(k(mu, y), F.huber_loss(t(mu), t(y), delta=delta, reduction=reduction).numpy(), dtype)
    close(k(mu, y) / np.asarray(delta, dtype), F.smooth_l1_loss(t(mu), t(y), beta=delta, reduction=reduction).numpy(), dtype, rtol=4 * RTOL[dtype])
    per = F.huber_loss(t(mu), t(y), delta=delta, reduction="none") * t(w)
    close(k(mu, y, weight=w), {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction].numpy(), dtype)
    if reduction == "mean":
        mt = t(mu, grad=True)
        F.huber_loss(mt, t(y), delta=delta).backward()
        k64 = symlik.compile("huber", fixed={"delta": delta})
        y64 = y.astype(float)
        keep = np.abs(np.abs(y64 - mu.astype(float)) - delta) > 1e-3  # the seam has one-sided derivatives
        check_grad(mt.grad.numpy()[keep], k64.grad(mu.astype(float), y64)[0][keep], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,torch_loss", [("normal", "mse_loss"), ("laplace", "l1_loss")])
def test_mse_and_mae_with_weights(name, torch_loss, reduction, dtype):
    rng = np.random.default_rng(11)
    mu, y, w = rng.normal(0, 2, N).astype(dtype), rng.normal(0, 2, N).astype(dtype), rng.uniform(0, 2, N).astype(dtype)
    k = symlik.compile(name, reduction=reduction)
    close(k(mu, y), getattr(F, torch_loss)(t(mu), t(y), reduction=reduction).numpy(), dtype)
    per = getattr(F, torch_loss)(t(mu), t(y), reduction="none") * t(w)
    close(k(mu, y, weight=w), {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction].numpy(), dtype)


# ---------------------------------------------------------------------------
# poisson_nll (the Poisson distribution comes from the catalog)
# ---------------------------------------------------------------------------

needs_poisson = pytest.mark.skipif("poisson" not in symlik.names(), reason="the poisson distribution is not in the catalog yet")
POISSON_COMBOS = [
    dict(log_input=True), dict(log_input=True, full=True), dict(log_input=True, exact=True),
    dict(log_input=False), dict(log_input=False, eps=1e-8), dict(log_input=False, eps=0.5, full=True),
    dict(log_input=False, eps=1e-8, exact=True),
]


def poisson_case(dtype, log_input, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1, 2, 3, 7, 40, 150, 1, 0, 5, 12, 2], dtype)
    x = rng.normal(0, 1.5, N) if log_input else rng.lognormal(0, 1, N)
    if not log_input:
        x[0] = 0.0  # a rate of 0: only finite with eps
    return x.astype(dtype), y


@needs_poisson
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", POISSON_COMBOS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_poisson_nll(opts, reduction, dtype):
    from scipy.special import gammaln

    x, y = poisson_case(dtype, opts["log_input"])
    sym = dict(opts)
    exact_ = sym.get("exact", False)
    if not opts["log_input"] and "eps" not in opts:
        x, y = x[1:], y[1:]
    k = symlik.compile("poisson", reduction=reduction, **sym)
    eps = opts.get("eps", 0.0)
    per = F.poisson_nll_loss(t(x), t(y), log_input=opts["log_input"], full=opts.get("full", False), eps=eps,
                             reduction="none").numpy().astype(np.float64)
    if exact_:  # symlik's exact=True: torch's default loss plus the exact log y!
        per = per + gammaln(y.astype(np.float64) + 1)
    want = {"none": per, "mean": per.mean(), "sum": per.sum()}[reduction]
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    rate = np.exp(x64) if opts["log_input"] else x64
    scale = rate + y64 * np.abs(np.log(rate + eps) if not opts["log_input"] else x64) + y64 * (1 + np.log1p(y64))
    close(k(x, y), want, dtype, scale=scale if reduction == "none" else np.sum(scale))
    if reduction == "mean":
        xt = t(x, grad=True)
        F.poisson_nll_loss(xt, t(y), log_input=opts["log_input"], full=opts.get("full", False), eps=eps).backward()
        k64 = symlik.compile("poisson", validate=False, **sym)
        keep = rate > 0  # at a rate of 0 the derivative -y/eps is checked by the values above
        check_grad(xt.grad.numpy()[keep], k64.grad(x64, y64)[0][keep], dtype)


@needs_poisson
def test_poisson_full_adds_stirling_only_above_one():
    k = symlik.compile("poisson", reduction="none", log_input=True, full=True)
    k0 = symlik.compile("poisson", reduction="none", log_input=True)
    y = np.array([0.0, 1.0, 2.0, 50.0])
    z = np.zeros(4)
    stirling = y * np.log(np.where(y > 0, y, 1)) - y + 0.5 * np.log(2 * np.pi * np.where(y > 0, y, 1))
    close(k(z, y) - k0(z, y), np.where(y > 1, stirling, 0.0), np.float64, scale=1.0)
