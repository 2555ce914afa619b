"""Pickle derivations between processes without changing a single displayed step.

SymPy pickles an expression as ``type(expr)(*expr.args)``, which evaluates it again on
loading. A derivation's steps hold unevaluated expressions on purpose (``evaluate=False``: the
terms in the order the argument writes them, ``log(exp(x))`` before it simplifies), and these
would come back rewritten. ``dumps`` pickles each Add, Mul, Pow, function application and
relation as its class and arguments, rebuilt with ``evaluate=False``: what was evaluated comes
back identical (its arguments are already in canonical order), what was not stays as it was.
"""

from __future__ import annotations

import io
import pickle

import sympy as sp
from sympy.core.function import Application
from sympy.core.operations import AssocOp
from sympy.core.relational import Relational

_UNEVALUATED = (AssocOp, sp.Pow, Application, Relational)


def unevaluated(cls, args):
    """``cls(*args)`` exactly as it was: not evaluated again (how ``dumps`` rebuilds an expression)."""
    return cls(*args, evaluate=False)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        # only classes that pickle the SymPy way; those with their own reduction keep it
        if (isinstance(obj, _UNEVALUATED) and not isinstance(obj, sp.core.function.UndefinedFunction)
                and type(obj).__reduce_ex__ is sp.Basic.__reduce_ex__ and isinstance(obj, sp.Basic) and obj.args):
            return unevaluated, (type(obj), obj.args)
        return NotImplemented


def dumps(value) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def loads(data: bytes):
    return pickle.loads(data)
