"""Benchmark: symlik's fused grad_hess kernels against sklearn._loss's gradient_hessian,
and symlik's XGBoost objective against torch autograd (XGBoostLSS's method) per round.

    python tools/bench_boosting.py [--n 10000000] [--repeat 7] [--threads 2] [--rounds-n 100000]
    python tools/bench_boosting.py --n 0 --rounds-n 50000     # the per-round table only

The second table trains a normal (mu, log sigma) model with XGBoost on the same data, with
symlik's objective, with an objective that gets gradient and Hessian from torch autograd as
XGBoostLSS does (``_autograd_objective``), and, where the ``xgboostlss`` package imports,
with XGBoostLSS itself (``Gaussian(response_fn="exp")``, its own start values). It reports the
time per boosting round (the whole ``train`` call over the rounds, start values included)
and the held-out mean NLL. xgboostlss 0.6.1 pins torch < 2.10 and numpy < 2.4, so it lives in
its own virtual environment: ``pip install --no-deps xgboostlss`` beside torch==2.13.0,
pyro-ppl, numpy<2.4 and this checkout (``pip install -e .``) runs it with torch 2.13.

Each row times one call computing the per-observation gradient and Hessian (float64, with
sample weights) and reports the median and the minimum over the repeats, and the ratio of
medians (symlik / sklearn: below 1 means symlik is faster). Outputs are preallocated for
sklearn (gradient_out/hessian_out), as a boosting library would; symlik allocates its own,
except in the multinomial row, where both sides are timed with preallocated outputs (symlik's
``out=``) and then both allocating.
Timings on a shared machine are noisy: compare ratios from the same run only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import symlik

CASES = [
    # name, symlik model, sklearn loss, label sampler
    ("poisson (log)", dict(spec="poisson", link="log"), "HalfPoissonLoss", lambda r, n: r.poisson(2.0, n).astype(float)),
    ("gamma (log, k=1)", dict(spec="gamma", link="log", fixed={"k": 1.0}), "HalfGammaLoss", lambda r, n: r.gamma(2.0, 1.0, n)),
    ("binomial (logit)", dict(spec="bernoulli", link="logit"), "HalfBinomialLoss", lambda r, n: (r.random(n) < 0.3).astype(float)),
    ("tweedie (log, p=1.5)", dict(spec="tweedie", link="log", fixed={"power": 1.5, "phi": 1.0}), "HalfTweedieLossIdentity",
     lambda r, n: r.gamma(2.0, 1.0, n)),
]


def _time(fn, repeat):
    fn()  # warm: compile, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds-n", type=int, default=100_000, help="observations for the per-round table (0: skip)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    from sklearn._loss import loss as sk

    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, args.n)  # --n 0: only the per-round table
    w = rng.uniform(0.5, 1.5, args.n)
    print(f"n = {args.n:,}, float64, weighted; {args.repeat} repeats; sklearn n_threads={args.threads}")
    print(f"{'model':24s} {'symlik fused (med/min s)':>26s} {'sklearn (med/min s)':>22s} {'ratio':>7s}")
    for name, model, loss_name, draw in CASES if args.n else ():
        if model["spec"] not in symlik.names():
            print(f"{name:24s} skipped: {model['spec']} is not in the catalog")
            continue
        y = draw(rng, args.n)
        spec = model.pop("spec")
        kernel = symlik.compile(spec, target="grad_hess", backend="fused", validate=False, **model)
        model["spec"] = spec
        loss = getattr(sk, loss_name)(**({"power": 1.5} if "Tweedie" in loss_name else {}))
        g_out, h_out = np.empty_like(z), np.empty_like(z)
        ours = _time(lambda: kernel(z, y, weight=w), args.repeat)
        theirs = _time(lambda: loss.gradient_hessian(y, z, sample_weight=w, gradient_out=g_out, hessian_out=h_out,
                                                     n_threads=args.threads), args.repeat)
        print(f"{name:24s} {ours[0]:12.4f} / {ours[1]:.4f} {theirs[0]:12.4f} / {theirs[1]:.4f} {ours[0] / theirs[0]:7.2f}")
    if args.n:
        softmax_head(rng, args.n // 10, 10, args.repeat, args.threads)
    if args.rounds_n:
        per_round(args.rounds_n, args.rounds, min(args.repeat, 3))


def softmax_head(rng, n, K, repeat, threads):
    """The multi-class row: n observations of K logits (10^6 x 10 for --n 10^7), class-index labels,
    weighted; symlik's categorical softmax grad_hess (gradient s - y, Hessian diagonal s (1 - s))
    against sklearn's HalfMultinomialLoss, whose Hessian is the same diagonal."""
    from sklearn._loss import loss as sk

    z = rng.normal(0, 1, (n, K))
    y = rng.integers(0, K, n)
    w = rng.uniform(0.5, 1.5, n)
    kernel = symlik.compile("categorical", link="softmax", target="grad_hess", backend="fused", validate=False)
    loss = sk.HalfMultinomialLoss(n_classes=K)
    g_out, h_out = np.empty_like(z), np.empty_like(z)
    g_ours, h_ours = np.empty_like(z), np.empty_like(z)
    y_float = y.astype(float)
    ours = _time(lambda: kernel(z, y, weight=w, out=(g_ours, h_ours)), repeat)
    theirs = _time(lambda: loss.gradient_hessian(y_float, z, sample_weight=w, gradient_out=g_out, hessian_out=h_out,
                                                 n_threads=threads), repeat)
    name = f"multinomial ({n:,} x {K})"
    print(f"{name:24s} {ours[0]:12.4f} / {ours[1]:.4f} {theirs[0]:12.4f} / {theirs[1]:.4f} {ours[0] / theirs[0]:7.2f}")
    # Both sides above write into outputs kept from call to call (symlik's out=, sklearn's
    # gradient_out/hessian_out). Allocating two fresh [n, K] outputs on every call, both sides:
    ours_alloc = _time(lambda: kernel(z, y, weight=w), repeat)
    allocating = _time(lambda: loss.gradient_hessian(y_float, z, sample_weight=w, n_threads=threads), repeat)
    print(f"{'  both allocating':24s} {ours_alloc[0]:12.4f} / {ours_alloc[1]:.4f} {allocating[0]:12.4f} / "
          f"{allocating[1]:.4f} {ours_alloc[0] / allocating[0]:7.2f}")


def _autograd_objective(n_params=2):
    """XGBoostLSS's way: the NLL in torch, gradient and Hessian diagonal by autograd each round."""
    import torch

    def objective(predt, dtrain):
        y = torch.tensor(dtrain.get_label(), dtype=torch.float64)
        z = [torch.tensor(predt[:, j], dtype=torch.float64, requires_grad=True) for j in range(n_params)]
        nll = -torch.distributions.Normal(z[0], torch.exp(z[1])).log_prob(y).sum()
        grads = torch.autograd.grad(nll, z, create_graph=True)
        hess = [torch.autograd.grad(g.sum(), zj, retain_graph=True)[0] for g, zj in zip(grads, z)]
        return (np.stack([g.detach().numpy() for g in grads], 1), np.stack([h.detach().numpy() for h in hess], 1))

    return objective


def per_round(n, rounds, repeat):
    import xgboost as xgb
    import scipy.stats as st

    import symlik.xgboost as sx

    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(2 * n, 5))
    y = rng.normal(1 + X[:, 0], 0.5 * np.exp(0.3 * X[:, 1]))
    try:
        import numba  # noqa: F401 - the fused backend's compiler

        backend = "fused"
    except ImportError:
        backend = "numpy"
    obj = sx.objective("normal", predict=("mu", "sigma"), link={"sigma": "log"}, backend=backend)
    margin = obj.base_margin(y[:n])
    train = xgb.DMatrix(X[:n], y[:n], base_margin=margin)
    test = xgb.DMatrix(X[n:], y[n:], base_margin=np.tile(margin[:1], (n, 1)))
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.1, "nthread": 2, "seed": 0, **obj.params}
    print(f"\nnormal (mu, log sigma), n = {n:,} train / {n:,} held out, {rounds} rounds, XGBoost nthread=2, "
          f"symlik's {backend} backend")
    for name, objective in (("symlik", obj), ("torch autograd", _autograd_objective())):
        objective(np.asarray(margin, dtype=np.float64), train)  # warm: JIT compilation, caches
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            booster = xgb.train(params, train, rounds, obj=objective)
            times.append((time.perf_counter() - t) / rounds)
        m = booster.predict(test, output_margin=True)
        nll = -np.mean(st.norm.logpdf(y[n:], m[:, 0], np.exp(m[:, 1])))
        print(f"{name:16s} per round {1e3 * statistics.median(times):8.2f} ms (min {1e3 * min(times):.2f})  held-out NLL {nll:.5f}")
    try:
        from xgboostlss.distributions.Gaussian import Gaussian
        from xgboostlss.model import XGBoostLSS
    except ImportError:
        print("xgboostlss       not installed (see the module docstring)")
        return
    plain_train, plain_test = xgb.DMatrix(X[:n], y[:n]), xgb.DMatrix(X[n:], y[n:])
    lss_params = {k: v for k, v in params.items() if k in ("tree_method", "max_depth", "eta", "nthread", "seed")}
    times = []
    for _ in range(repeat):
        model = XGBoostLSS(Gaussian(stabilization="None", response_fn="exp", loss_fn="nll"))
        t = time.perf_counter()
        model.train(dict(lss_params), plain_train, num_boost_round=rounds, verbose_eval=False)
        times.append((time.perf_counter() - t) / rounds)
    fitted = model.predict(plain_test, pred_type="parameters")
    nll = -np.mean(st.norm.logpdf(y[n:], fitted["loc"].to_numpy(), fitted["scale"].to_numpy()))
    print(f"{'XGBoostLSS':16s} per round {1e3 * statistics.median(times):8.2f} ms (min {1e3 * min(times):.2f})  held-out NLL {nll:.5f}")
    # The objectives alone (what the library computes each round; XGBoost's tree building is
    # the same for both): one call on the margins of the trained models, the labels of train.
    margins = booster.predict(train, output_margin=True)
    lss_train = xgb.DMatrix(X[:n], y[:n], base_margin=np.tile(model.start_values, (n, 1)))
    ours = _time(lambda: obj(margins, train), max(repeat, 5))
    theirs = _time(lambda: model.dist.objective_fn(margins, lss_train), max(repeat, 5))
    print(f"objective call: symlik {1e3 * ours[0]:.2f} ms, XGBoostLSS {1e3 * theirs[0]:.2f} ms (medians): "
          f"{theirs[0] / ours[0]:.1f}x")


if __name__ == "__main__":
    main()
