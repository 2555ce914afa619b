"""Which logits a kernel sees only through their softmax, so a row with +inf entries has a limit.

A dense cross-entropy, log sum_j e^(z_j) sum_k y_k - sum_k y_k z_k, is unchanged when one
constant is added to every logit of a row. At a row with +inf logits its two terms are
inf - inf = nan, yet the row's limit exists: softmax puts equal mass on the +inf entries and
none elsewhere, which is what the row gives with each +inf entry as 0 and every other entry
as -inf. ``softmax_inputs`` proves the invariance (the derivative in the added constant is 0)
for each LogSumExp input of a kernel; the backends pin those rows (``_pin_infinite_rows``)
before evaluating, and leave every other kernel alone, whose limit would not be this one.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import LogSumExp, XMul


def _shifted(expr: sp.Expr, zbase: sp.IndexedBase, c: sp.Symbol) -> sp.Expr:
    """``expr`` with ``c`` added to every entry of ``zbase`` (and so to its LogSumExp)."""
    exact = expr.replace(lambda e: isinstance(e, XMul), lambda e: e.args[0] * e.args[1])
    exact = exact.replace(
        lambda e: isinstance(e, LogSumExp) and e.args[0] == zbase, lambda e: e + c
    )
    return exact.replace(lambda e: isinstance(e, sp.Indexed) and e.base == zbase, lambda e: e + c)


def softmax_inputs(expr: sp.Expr) -> tuple[str, ...]:
    """Names of the LogSumExp inputs of ``expr`` (IndexedBase logits) in which ``expr`` is
    invariant under adding one constant to all of a row's entries: proven by SymPy, not
    assumed from the distribution (a label-smoothed or weighted cross-entropy whose weights do
    not sum to the LogSumExp's coefficient is not invariant, and is not listed)."""
    if not isinstance(expr, sp.Expr):
        return ()
    names = []
    for zbase in sorted({e.args[0] for e in expr.atoms(LogSumExp)}, key=sp.default_sort_key):
        if not isinstance(zbase, sp.IndexedBase):
            continue
        c = sp.Dummy("c", real=True)
        try:
            rate = sp.diff(_shifted(expr, zbase, c), c).doit()
            invariant = sp.simplify(rate) == 0
        except (TypeError, ValueError, NotImplementedError, StopIteration):
            invariant = False  # SymPy gave up (simplify raises StopIteration on a SafeRatio): not proven
        if invariant:
            names.append(str(zbase.label))
    return tuple(names)


__all__ = ["softmax_inputs"]
