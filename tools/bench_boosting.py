"""Benchmark: symlik's fused grad_hess kernels against sklearn._loss's gradient_hessian.

    python tools/bench_boosting.py [--n 10000000] [--repeat 7] [--threads 2]

Each row times one call computing the per-observation gradient and Hessian (float64, with
sample weights) and reports the median and the minimum over the repeats, and the ratio of
medians (symlik / sklearn: below 1 means symlik is faster). Outputs are preallocated for
sklearn (gradient_out/hessian_out), as a boosting library would; symlik allocates its own.
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
    ("tweedie (log, p=1.5)", dict(spec="tweedie", link="log", fixed={"p": 1.5}), "HalfTweedieLossIdentity",
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
    args = parser.parse_args(argv)
    from sklearn._loss import loss as sk

    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, args.n)
    w = rng.uniform(0.5, 1.5, args.n)
    print(f"n = {args.n:,}, float64, weighted; {args.repeat} repeats; sklearn n_threads={args.threads}")
    print(f"{'model':24s} {'symlik fused (med/min s)':>26s} {'sklearn (med/min s)':>22s} {'ratio':>7s}")
    for name, model, loss_name, draw in CASES:
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


if __name__ == "__main__":
    main()
