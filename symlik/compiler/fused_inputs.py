"""How the fused backend's loops read their inputs: a layout letter per input and the array
(or number) handed to the loop. Shared by the loss pass (``fused.FusedKernel``), its one-pass
vector targets (``FusedKernel.entries``) and the softmax ``grad_hess`` loop
(``event_grad_hess``). Imports NumPy only: numba is loaded where a loop runs.

Layouts, as the loops of ``_fused_runtime`` read them:

- ``"a"``: one value per observation, contiguous and flat, ``(n_obs,)``;
- ``"e"``: one event row per observation, contiguous, ``(n_obs, C)``;
- ``"i"``: one class index per observation, flat, ``(n_obs,)``;
- ``"s"``: one number for every observation (a Python float);
- ``"b"``: a broadcast view, ``(leading axes, last axis)`` with zero strides where it repeats,
  for loops that read it (``views=True``): a per-row sigma of shape (n, 1) is not copied.
"""

from __future__ import annotations

import math

import numpy as np

from symlik.compiler import checks


def lay_out(values: dict, obs_shape: tuple, *, event=frozenset(), size: int = 1, index: str | None = None,
            views: bool = False) -> tuple[dict, list]:
    """``(layouts, prepared)``: each input's layout letter, and what the loop is handed, in the
    order of ``values``. ``event`` names the inputs with an event axis of ``size`` entries;
    ``index`` the class-index target, if any.

    numba has no float16 or bool: float16 inputs are read as float32 (converted as given, before
    any broadcast, so no full-size float16 copy is made) and bool ones as uint8."""
    n_obs = math.prod(obs_shape)
    cols = obs_shape[-1] if obs_shape else 1
    layouts, prepared = {}, []
    for n, a in values.items():
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        elif a.dtype == np.bool_:
            a = a.view(np.uint8)
        if n in event:
            layout, a = "e", np.broadcast_to(a, obs_shape + (size,)).reshape(n_obs, size)
        elif n == index:
            layout, a = "i", np.broadcast_to(a, obs_shape).reshape(n_obs)
        elif a.size == 1 and n_obs != 1:
            layout, a = "s", float(a.reshape(()))
        elif a.shape == obs_shape and a.flags.c_contiguous:
            layout, a = "a", a.reshape(n_obs)  # a view
        else:
            layout, a = _broadcast(n, a, obs_shape, n_obs, cols, views)
        if isinstance(a, np.ndarray) and layout != "b" and not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        layouts[n] = layout
        prepared.append(a)
    return layouts, prepared


def _broadcast(name, a, obs_shape, n_obs, cols, views):
    """An input smaller than the observations (a per-row sigma of shape (n, 1)) or a broadcast
    view: read in place as (leading axes, last axis) with zero strides where it repeats, where
    the loop reads such views. Only a layout that this cannot express is copied, and only if
    it fits in memory."""
    if views:
        try:
            return "b", np.reshape(np.broadcast_to(a, obs_shape), (n_obs // cols if cols else 0, cols), copy=False)
        except ValueError:
            pass
    checks.refuse_oversized(obs_shape, a.dtype.itemsize, f"a copy of {name} broadcast")
    return "a", np.ascontiguousarray(np.broadcast_to(a, obs_shape)).reshape(n_obs)
