import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Tests never read or write the user's kernel cache.
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
