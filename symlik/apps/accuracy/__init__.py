"""Measured accuracy of every compiled kernel against mpmath at 50 digits.

For every catalog entry, link and variant, each kernel (the NLL, the loss,
and the gradient of each in each predicted input) runs over an extreme grid
(``grid.py``) in float64 and float32 and is compared with the oracle
(``oracle.py``); ``measure.py`` keeps the worst case. ``python -m
symlik.apps.accuracy`` writes the table to docs/accuracy.md; ``--check`` only
compares. Needs mpmath (a SymPy dependency) and, for the special functions
some kernels call, scipy.
"""

from __future__ import annotations

import math
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from symlik.apps.accuracy.measure import RTOL, measure
from symlik.apps.catalog import all_derivations, combinations
from symlik.derivation.pipeline import derive

DOC = "docs/accuracy.md"
# The second table: densities a user writes for symlik.custom (custom.py), measured the same way.
USER_HEADING = "## User-written densities"
HEADER = "| derivation | kernel | points (f64 / f32) | worst f64 | kappa there | where (f64) | worst f32 | kappa there | where (f32) | nan/inf | within bounds |"


# Entries left out of the extreme grid, each with where its accuracy is checked instead: the tweedie
# oracle sums the Dunn-Smyth series term by term (at phi = 1e-8 and y = 1e8, about 1e16 terms),
# gev's grid points sit on its moving support's edge, and the mixture's oracle is too slow (below).
NOT_MEASURED = {
    # gev: its support moves with the parameters, and the grid puts y within a rounding of the edge
    # (mu = -1, sigma = 1e8, xi = -1e8, y = -1e-300: t = 1 + xi (y - mu)/sigma is 1e-300, but y - mu
    # rounds to 1 and t to 0), where the kernel says +inf (outside); measured, 47 of its 194 points
    # are such, and its f32 gradients overflow at the Gumbel branch with z = 1e16.
    "gev": "tests/test_catalog_three.py: scipy genextreme, and mpmath (50 digits) at xi = 1e-12 through the "
           "Gumbel series; outside the moving support +inf",
    # gaussian_mixture: its mpmath oracle differentiates a K-component log-sum-exp in 3K inputs; the
    # 2-component grid alone took over 6 minutes, longer than the rest of the catalog together
    "gaussian_mixture": "tests/test_catalog_mixture.py: torch MixtureSameFamily, mpmath (50 digits) 1e3 sigmas "
                        "from every mean (1.2e-16) and at logits +-1e3",
    "tweedie": "tests/test_tweedie.py: the NLL against an mpmath series (40 digits) over p 1.01-1.99, "
               "y 1e-6-1e3, phi 0.01-100 (worst 1.2e-14), the deviance against sklearn",
}


def not_measured_lines() -> list[str]:
    """The entries left out of the grid, each with where its accuracy is checked instead."""
    return [f"- Not measured over the grid: `{name}`, checked in {where}." for name, where in sorted(NOT_MEASURED.items())]


def measured(name: str) -> bool:
    return name not in NOT_MEASURED


def _measure_one(d) -> list:
    by_kernel = {}
    for dtype in (np.float64, np.float32):
        for r in measure(d, dtype):
            by_kernel.setdefault(r.kernel, {})[r.dtype] = r
    return [(d.slug, kernel, pair.get("float64"), pair.get("float32")) for kernel, pair in by_kernel.items()]


def _measure_combination(combination) -> list:
    """The rows of one catalog combination, derived afresh (in a worker process)."""
    name, predict, link, options = combination
    return _measure_one(derive(name, predict=predict, link=link, options=options or None))


def measure_all(slugs=None, progress=None, derivations=None, jobs: int = 1):
    """Results for every derivation (or those whose slug is in ``slugs``), both dtypes.

    With ``jobs`` > 1 the catalog's combinations are measured in that many processes (started
    by spawn: a forked copy of a process that runs JAX's threads may deadlock); the rows come
    back in the catalog's order either way."""
    if derivations is None and jobs > 1:
        chosen = [c for c in combinations() if measured(c[0])]
        if slugs is not None:  # a slug is known only once derived
            chosen = [c for c in chosen if derive(c[0], predict=c[1], link=c[2], options=c[3] or None).slug in slugs]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = []
            for combination, part in zip(chosen, pool.map(_measure_combination, chosen)):
                if progress:
                    progress(part[0][0] if part else combination[0])
                rows += part
            return rows
    rows = []
    for d in all_derivations() if derivations is None else derivations:
        if slugs is not None and d.slug not in slugs or not measured(d.spec.name):
            continue
        if progress:
            progress(d.slug)
        rows += _measure_one(d)
    return rows


def expected_kernels(d) -> list[str]:
    """The kernel names measure() reports for a derivation, without running anything."""
    out = []
    for target in ("nll", "loss"):
        out.append(target)
        out += [f"d {target} / d {n}" for n in d.predicted_inputs]
    return out


def _kappa(r) -> str:
    if r is None or r.kappa is None:
        return "-"
    return "inf" if not math.isfinite(r.kappa) else f"{r.kappa:.1e}"


def _cell(r) -> tuple[str, str, str, str]:
    if r is None:
        return "-", "-", "-", "-"
    return str(r.points), f"{r.worst:.1e}", _kappa(r), r.where.replace("|", "\\|")


def _table(rows) -> list[str]:
    lines = [HEADER, "|---" * HEADER.count(" | ") + "|---|"]
    for slug, kernel, r64, r32 in rows:
        p64, w64, k64, at64 = _cell(r64)
        p32, w32, k32, at32 = _cell(r32)
        bad = sum(r.nonfinite for r in (r64, r32) if r is not None)
        ok = all(r.ok for r in (r64, r32) if r is not None)
        lines.append(f"| `{slug}` | {kernel} | {p64} / {p32} | {w64} | {k64} | {at64} | {w32} | {k32} | {at32} | {bad} | {'yes' if ok else 'NO'} |")
    return lines


def render_user(rows) -> str:
    """The section for the user-written densities (custom.py)."""
    lines = [
        "",
        USER_HEADING,
        "",
        "Densities as a user writes them for `symlik.custom`, with erf, exp and powers and no stable function",
        "named (`symlik/apps/accuracy/custom.py`): a skew-normal written with erf, a type I generalised",
        "logistic and a Nakagami-m. The rewrites find the stable forms (log Phi and log erfc for the erf,",
        "softplus for the logistic's log(1 + e^-r), log-gamma for the Nakagami); the grid, the oracle and the",
        "bounds are those of the table above.",
        "",
    ]
    return "\n".join(lines + _table(rows)) + "\n"


def split(text: str) -> tuple[str, str]:
    """(the catalog's part, the user-written densities' part) of a rendered page."""
    head, _, user = text.partition(USER_HEADING)
    return head, user


def render(rows, user_rows=()) -> str:
    lines = [
        "# Accuracy of the compiled kernels",
        "",
        "Generated by `python -m symlik.apps.accuracy`; do not edit by hand (a test checks that it is current).",
        "",
        "Every kernel (NLL, canonical loss, and the gradient of each in each predicted input) of every catalog",
        "entry, link and variant runs over an extreme grid built from the entry's constraints, support and link:",
        "scales 1e-8 to 1e8, logits to +-1e3 (float64) and +-80 (float32), counts to 1e6, probabilities within",
        "1e-15 of 0 and 1 (the closest float32 allows), targets at and next to each support edge; vectors have 3",
        "components. The truth is mpmath at 50 correct digits: the NLL from the distribution's own density (the",
        "link inverted numerically), the loss from its exact formula (before any stability rewrite; where that is",
        "0 log 0, from the proven identity loss = (nll - offset) / scale), gradients by mpmath finite differences",
        "of those (one-sided at a closed edge; points at a kink are skipped).",
        "",
        "The bound follows the condition of the problem, not the algorithm. With S = sum_i |x_i df/dx_i| over",
        "every input (the target and every parameter included; mpmath finite differences of the truth), the",
        "condition number is kappa = S / |f|: one relative rounding of every input moves f by kappa relative",
        "roundings, so no algorithm can promise better. A value is within bounds when",
        "|got - truth| <= rtol * max(|truth|, S), a relative error of at most rtol * max(1, kappa), with rtol = "
        f"{RTOL[np.float64]:g} (float64) and {RTOL[np.float32]:g} (float32). 'worst' is |got - truth| / max(|truth|, S)",
        "(the relative error where kappa <= 1), at most rtol when within bounds; 'kappa there' is the condition",
        "number at that point, shown where the relative error alone was over rtol (elsewhere it was not needed",
        "and is not computed: '-'). Besides the edges, the grid holds matched large targets (y = rate, y = mu,",
        "y = n p up to 1e8), where a well-predicted value is small next to its terms. 'nan/inf' counts values that",
        "are not finite where the truth is finite and representable (it must be 0). Points where the truth is",
        "infinite or beyond the dtype's range are left out.",
        "",
    ]
    worst = {}
    for slug, kernel, r64, r32 in rows:
        for r in (r64, r32):
            if r is not None and (r.dtype not in worst or r.worst > worst[r.dtype][0]):
                worst[r.dtype] = (r.worst, slug, kernel, r.where)
    for dtype in ("float64", "float32"):
        if dtype in worst:
            w, slug, kernel, where = worst[dtype]
            lines.append(f"- Worst {dtype}: {w:.1e} ({slug}, {kernel}, at {where}).")
    all_ok = all((r is None or r.ok) for _, _, r64, r32 in rows for r in (r64, r32))
    lines += [f"- Every kernel within bounds: {'yes' if all_ok else 'NO'}.", *not_measured_lines(), ""]
    text = "\n".join(lines + _table(rows)) + "\n"
    return text + render_user(user_rows) if user_rows else text


def parse(text: str) -> dict:
    """{(slug, kernel): (points, worst f64, worst f32, nan/inf, ok)} from a rendered table."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\| `([^`]+)` \| ([^|]+) \| (\S+) / (\S+) \| (\S+) \| \S+ \| .*? \| (\S+) \| \S+ \| .*? \| (\d+) \| (yes|NO) \|$", line)
        if m:
            slug, kernel, p64, p32, w64, w32, bad, ok = m.groups()
            num = lambda s: float("nan") if s == "-" else float(s)  # noqa: E731
            out[(slug, kernel.strip())] = (p64, p32, num(w64), num(w32), int(bad), ok == "yes")
    return out


def same_measurement(a, b) -> bool:
    """Two rows agree: same points, same nan/inf count, same verdict, and worst errors within a
    factor of 10 (the last bits of libm differ between machines) or both far inside the bound."""
    (pa64, pa32, wa64, wa32, ba, oka), (pb64, pb32, wb64, wb32, bb, okb) = a, b
    if (pa64, pa32, ba, oka) != (pb64, pb32, bb, okb):
        return False
    for x, y, floor in ((wa64, wb64, 1e-15), (wa32, wb32, 1e-8)):
        if math.isnan(x) and math.isnan(y):
            continue
        if max(x, y) <= floor:
            continue
        if min(x, y) <= 0 or abs(math.log10(x) - math.log10(y)) > 1:
            return False
    return True


__all__ = ["measure_all", "measured", "NOT_MEASURED", "render", "render_user", "split", "USER_HEADING", "parse", "same_measurement", "expected_kernels", "DOC", "HEADER"]
