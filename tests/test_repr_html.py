"""Jupyter: a Derivation and a Kernel show themselves as HTML too (issue 16), for front ends
that render HTML but not LaTeX or Markdown reprs."""

from __future__ import annotations

from html.parser import HTMLParser

import symlik

VOID = {"br", "hr", "img", "meta", "input"}


class _Balance(HTMLParser):
    """Records the text and checks that every tag is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parsed(markup: str) -> _Balance:
    p = _Balance()
    p.feed(markup)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


def test_derivation_html_has_every_step_and_its_math():
    d = symlik.derive("bernoulli", link="logit")
    page = _parsed(d._repr_html_())
    text = "".join(page.text)
    for number, step in enumerate(d.steps, 1):
        assert f"{number}. {step.title}" in text
    assert "binary_cross_entropy" in text
    assert text.count("\\[") == len(d.steps) + 1  # one display per step, and the proven identity
    assert "$$" not in text  # Markdown's math delimiters are not HTML's


def test_html_escapes_what_would_be_markup():
    d = symlik.derive("normal")
    markup = d._repr_html_()
    # a relation in LaTeX (\lt, <) never opens a tag: every '<' in the output starts a known tag
    assert all(chunk.split(">", 1)[0].split()[0].strip("/") in {"div", "h3", "h4", "p", "table", "tr", "th", "td", "code", "b"}
               for chunk in markup.split("<")[1:])


def test_kernel_html_names_its_inputs_backend_and_formula():
    k = symlik.compile("normal", predict=("mu", "sigma"))
    page = _parsed(k._repr_html_())
    text = "".join(page.text)
    assert "mu, sigma, y" in text and "numpy" in text and "mean" in text
    assert "\\frac" in text and "gaussian" in text
