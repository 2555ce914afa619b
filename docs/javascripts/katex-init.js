// Render the math that pymdownx.arithmatex marked (\( \) inline, \[ \] display) with the
// KaTeX served from this site. throwOnError: false leaves a .katex-error element on a bad
// formula instead of a blank, which the browser test looks for.
document$.subscribe(function () {
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
  });
});
