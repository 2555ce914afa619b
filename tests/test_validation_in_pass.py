"""The fused backend validates inside the pass that computes the loss (issue 12, item 3).

Each value check that can be made value by value is compiled into the loop
(``checks.element_test``). These tests check that the compiled test rejects
exactly what the NumPy check rejects (for every check of every catalog
entry), and that a kernel raises with the same words and first index as the
NumPy backend, wherever the bad value sits (first chunk, last thread's
chunk, a class index, a row of logits).
"""

import dataclasses
import json
import math

import numpy as np
import pytest

import symlik
from symlik.compiler import checks
from symlik.model.distributions import get as catalog_get

pytest.importorskip("numba")

# Values at and around every bound the catalog uses, with nan and +-inf.
PROBES = np.array(
    [-np.inf, -1e300, -100.0, -2.0, -1.0, -0.5, -1e-300, 0.0, 1e-300, 0.5, 1.0, 1.5, 2.0, 3.0, 100.0,
     1e300, np.inf, np.nan]
)


def _descriptions():
    """(id, description) of every check the catalog's kernels can hold, deduplicated: each
    parameter's constraint, each support, the class index and a pre-activation. Read from the
    specs, as ``checks.describe`` builds them, rather than by compiling every entry: that
    derived the whole catalog while pytest collected, in every xdist worker."""
    seen = {}

    def add(label, desc):
        # As JSON: equal descriptions with lists or tuples inside are one check.
        seen.setdefault(json.dumps(desc, sort_keys=True), (label, desc))

    add("logits", {"check": "pre_activation"})
    for name in symlik.names():
        spec = catalog_get(name)
        for param in spec.effective_params():
            add(f"{name}-{param.name}", {"check": "constraint", **param.constraint.describe()})
        add(f"{name}-y", {"check": "support", **dataclasses.asdict(spec.support)})
        if spec.support.kind == "onehot":
            add(f"{name}-y_index", {"check": "class_index"})
    return sorted(seen.values(), key=lambda item: item[0])


DESCRIPTIONS = _descriptions()


@pytest.mark.parametrize("desc", [d for _, d in DESCRIPTIONS], ids=[i for i, _ in DESCRIPTIONS])
def test_element_test_rejects_exactly_what_numpy_rejects(desc):
    source = checks.element_test(desc)
    if source is None:
        pytest.skip("checked by rows or against another parameter: NumPy checks it")
    C = 3
    ok_expr = compile(source.format(x="x"), "<element test>", "eval")  # our generated source, not user text
    namespace = {"np": np, "_INF": math.inf, "C": C}
    probes = np.arange(-1, C + 1) if desc["check"] == "class_index" else PROBES
    passes = np.array([bool(eval(ok_expr, {**namespace, "x": x})) for x in probes])  # noqa: S307
    check, _ = checks.build({"v": desc})["v"]
    arrays = {"y": probes, "ref": np.zeros((len(probes), C))}
    with np.errstate(invalid="ignore"):
        numpy_bad = check(probes, arrays) if callable(check) else check.violations(probes)
    np.testing.assert_array_equal(~passes, numpy_bad)


@pytest.mark.parametrize("name, options", [("normal", {}), ("bernoulli", {"link": "logit"}),
                                           ("categorical", {"link": "softmax"}), ("von_mises_fisher", {})])
def test_the_spec_read_descriptions_cover_a_compiled_kernels_checks(name, options):
    listed = {json.dumps(d, sort_keys=True) for _, d in DESCRIPTIONS}
    kernel = symlik.compile(name, backend="numpy", **options)
    for arg, desc in kernel._check_descriptions.items():
        assert json.dumps(desc, sort_keys=True) in listed, (name, arg)


CASES = [
    # (catalog name, compile options, inputs, the input to spoil, a bad value, the expected words)
    ("normal", {}, {"mu": 0.0, "y": 0.0}, "mu", np.nan, "mu must be a finite real number"),
    ("normal", {}, {"mu": 0.0, "y": 0.0}, "y", np.inf, r"y must lie in the support \(-inf, inf\)"),
    ("laplace", {}, {"mu": 0.0, "y": 0.0}, "y", np.nan, "y must lie in the support"),
    ("bernoulli", {"link": "logit"}, {"logits": 0.0, "y": 1.0}, "y", 2.0, r"y must lie in the support \{0, ..., 1\}"),
    ("bernoulli", {"link": "logit"}, {"logits": 0.0, "y": 1.0}, "logits", np.nan, "logits must be real"),
    ("normal", {"predict": ("mu", "sigma")}, {"mu": 0.0, "sigma": 1.0, "y": 0.0}, "sigma", 0.0, "sigma must be > 0"),
    ("normal", {"predict": ("mu", "sigma")}, {"mu": 0.0, "sigma": 1.0, "y": 0.0}, "sigma", -np.inf, "sigma must be > 0"),
    ("poisson", {"link": "log"}, {"log_rate": 0.0, "y": 1.0}, "y", 1.5, r"y must lie in the support \{0, ..., inf\}"),
    ("poisson", {"link": "log"}, {"log_rate": 0.0, "y": 1.0}, "y", -1.0, r"y must lie in the support"),
]


@pytest.mark.parametrize(
    "n", [7, pytest.param(1 << 17, marks=pytest.mark.slow)], ids=["one-chunk", "threaded"]  # each jits its own loops
)
@pytest.mark.parametrize("where", [0, -1], ids=["first", "last"])
@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])  # each jits its loops
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[3]}-{c[4]}" for c in CASES])
def test_fused_raises_with_the_rule_and_the_first_offending_index(case, dtype, where, n):
    name, options, fill, spoil, bad, words = case
    arrays = {k: np.full(n, v, dtype=dtype) for k, v in fill.items()}
    index = n + where if where < 0 else where
    arrays[spoil][index] = bad
    if index + 1 < n:
        arrays[spoil][-1] = bad  # a second bad value: the report names the first
    k = symlik.compile(name, backend="fused", **options)
    for reduction in ("mean", "none"):
        with pytest.raises(symlik.ConstraintError, match=rf"{words}.* at index \({index},\)"):
            symlik.compile(name, backend="fused", reduction=reduction, **options)(**arrays)
    # Unvalidated, the same inputs run (no exception): the check is validation, not the loss.
    with np.errstate(all="ignore"):
        symlik.compile(name, backend="fused", validate=False, **options)(**arrays)
    # Valid everywhere again: no error, and the value of the NumPy backend.
    arrays[spoil][:] = fill[spoil]
    np.testing.assert_allclose(k(**arrays), symlik.compile(name, **options)(**arrays), rtol=1e-6)


@pytest.mark.parametrize("rows", [5, 1 << 14])
def test_cross_entropy_checks_logits_rows_and_class_indices_in_the_pass(rows):
    k = symlik.compile("categorical", link="softmax", backend="fused")
    logits = np.zeros((rows, 4))
    labels = np.zeros(rows, dtype=np.int64)
    labels[rows - 2] = 4
    with pytest.raises(symlik.ConstraintError, match=rf"y must be a class index in \[0, C\).* at index \({rows - 2},\)"):
        k(logits, labels)
    labels[rows - 2] = -1
    with pytest.raises(symlik.ConstraintError, match=rf"class index.* at index \({rows - 2},\)"):
        k(logits, labels)
    labels[rows - 2] = 0
    logits[rows - 1, 3] = np.nan
    with pytest.raises(symlik.ConstraintError, match=rf"logits must be real.* at index \({rows - 1}, 3\)"):
        k(logits, labels)
    logits[rows - 1, 3] = -np.inf  # allowed: the limit is defined
    assert np.isfinite(k(logits, labels))
    # probability targets: row sums are checked by NumPy, after the pass
    probs = np.full((rows, 4), 0.25)
    probs[1] = [0.5, 0.5, 0.5, 0.0]
    with pytest.raises(symlik.ConstraintError, match=r"y must be one-hot or a probability vector.* at index \(1, 0\)"):
        k(np.zeros((rows, 4)), probs)


def test_a_bound_read_from_another_parameter_is_still_checked():
    # binomial's y <= n: not value by value, so NumPy checks it
    k = symlik.compile("binomial", backend="fused")
    with pytest.raises(symlik.ConstraintError, match="y must lie in the support"):
        k(np.full(4, 0.5), np.array([0.0, 1.0, 6.0, 2.0]), np.full(4, 5.0))


def test_generated_loop_holds_the_checks():
    src = symlik.compile("normal", predict=("mu", "sigma"), backend="fused").loop_source()
    assert "bad_ |= not (" in src and "(sigma_b[j] > 0.0)" in src
    assert "return acc, bad_" in src
    assert "bad_ |=" not in symlik.compile("normal", backend="fused", validate=False).loop_source()
