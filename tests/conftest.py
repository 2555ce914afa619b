import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Tests never read or write the user's kernel cache. The workers of one pytest-xdist run share
# theirs, so each catalog derivation (up to a minute for the GEV) is made once per run, not once
# per worker; entries are written atomically, so a worker reads a whole entry or none.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
if _RUN.isalnum():
    _shared = Path(tempfile.gettempdir()) / f"symlik-test-cache-{_RUN}"
    _shared.mkdir(mode=0o700, exist_ok=True)
    os.environ["SYMLIK_CACHE_DIR"] = str(_shared)
else:
    os.environ["SYMLIK_CACHE_DIR"] = tempfile.mkdtemp(prefix="symlik-test-cache-")

from symlik.apps.catalog import combinations  # noqa: E402

ALL = list(combinations())


def _id(c):
    name, predict, link, options = c
    parts = [name]
    if predict:
        parts.append("+".join(predict))
    if link:
        parts.append(link)
    parts += [f"{k}={v}" for k, v in (options or {}).items()]
    return "-".join(parts)


@pytest.fixture(params=ALL, ids=[_id(c) for c in ALL])
def combo(request):
    return request.param


@pytest.fixture
def derivation(combo):
    import symlik

    name, predict, link, options = combo
    return symlik.derive(name, predict=predict, link=link, options=options or None)


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")


# Entries whose derivations take 4-20 s each (branches, K or D fixed per option): their catalog-wide
# tests run in the slow suite, so that README's fast command stays under its 5 minutes on two cores.
# Each keeps its own fast tests (tests/test_catalog_*.py) against scipy, torch, XGBoost and mpmath.
HEAVY = frozenset({
    "gev", "truncated_normal", "weibull_aft", "lognormal_aft", "loglogistic_aft",
    "ordinal_logistic", "gaussian_mixture", "multivariate_normal",
})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        combo = params.get("combo")
        if isinstance(combo, tuple) and combo and combo[0] in HEAVY:
            item.add_marker(pytest.mark.slow)
