"""The documentation site: `mkdocs build --strict`, then every page opened in headless Chromium.

Every formula must have rendered (each arithmatex element holds KaTeX output,
no .katex-error, no raw $$ or \\[ left in the text), every request must stay
on localhost (KaTeX and fonts are served by the site: no CDN), and a
screenshot of one distribution page is saved. Skips without mkdocs, the
Playwright package, Debian's chromium, or KaTeX from npm.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("matplotlib")
    if not (ROOT / "node_modules" / "katex" / "dist" / "katex.min.js").exists():
        pytest.skip("KaTeX is not installed: run `npm ci`")
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _pages(site: Path) -> list[str]:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return ["" if p == "index.html" else p[: -len("index.html")] for p in pages]


def test_site_has_a_page_per_distribution(site):
    import symlik

    for name in symlik.names():
        assert (site / "distributions" / name / "index.html").exists(), name
    for page in ("getting-started", "api", "accuracy", "benchmarks", "guides/add-a-distribution",
                 "guides/test-your-own-loss"):
        assert (site / page / "index.html").exists(), page
    assert (site / "assets" / "katex" / "katex.min.js").exists()


RENDER_CHECK = """() => {
  const math = [...document.querySelectorAll('.md-content .arithmatex')];
  const text = el => { const c = el.cloneNode(true); c.querySelectorAll('pre, code, .katex').forEach(n => n.remove());
                       return c.innerText; };
  return {
    math: math.length,
    rendered: math.filter(el => el.querySelector('.katex')).length,
    errors: [...document.querySelectorAll('.katex-error')].map(e => e.getAttribute('title') || e.textContent).slice(0, 3),
    raw: text(document.body),
    images: [...document.querySelectorAll('.md-content img')].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  };
}"""


def test_every_page_renders_every_formula(site, server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(server) else None)
    problems = []
    formulas = 0
    for rel in _pages(site):
        response = page.goto(f"{server}/{rel}", wait_until="load")
        assert response.ok, rel
        page.wait_for_function(
            "() => [...document.querySelectorAll('.md-content .arithmatex')].every(el => el.querySelector('.katex, .katex-error'))",
            timeout=15000,
        )
        state = page.evaluate(RENDER_CHECK)
        formulas += state["math"]
        if state["rendered"] != state["math"] or state["errors"]:
            problems.append(f"/{rel}: {state['math'] - state['rendered']} unrendered, errors {state['errors']}")
        if "$$" in state["raw"] or "\\[" in state["raw"] or "\\(" in state["raw"]:
            problems.append(f"/{rel}: raw TeX delimiters left in the text")
        if state["images"]:
            problems.append(f"/{rel}: images that did not load: {state['images']}")
    assert not problems, "\n".join(problems)
    assert formulas > 100  # the distribution pages are full of math: an empty site would pass the rest
    assert not outside, f"requests left localhost (a CDN?): {outside[:5]}"

    # A screenshot of one distribution page, for a reader to look at.
    page.goto(f"{server}/distributions/normal/", wait_until="load")
    page.wait_for_function("() => document.querySelectorAll('.md-content .katex').length > 10")
    shot = Path(os.environ.get("SYMLIK_SCREENSHOT_DIR", tmp_path)) / "normal-page.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:4] == b"\x89PNG"
    page.close()
