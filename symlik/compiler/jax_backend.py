"""The JAX backend (``backend="jax"``): differentiable, jit-able losses.

Needs jax (the ``jax`` extra). This is the runtime (no SymPy): the kernel is
the NumPy backend's source printed for ``jax.numpy`` by the printer,
``xp_printers.generate_jax``, run here in JAX's namespace; ``jax.grad``
and ``jax.jit`` go through it. Under ``jax.jit`` values are traced, so the
value checks run only on concrete arrays.
"""

from __future__ import annotations

import functools

import numpy as np

from symlik.compiler import _numpy_runtime
from symlik.compiler.numpy_backend import exec_source
from symlik.compiler.xp_kernel import LibraryKernel


def _namespace():
    import jax
    import jax.numpy as jnp
    import jax.scipy.special

    def _softplus(z):
        # logaddexp(z, 0): stable, and its derivative is sigmoid(z) everywhere.
        return jnp.logaddexp(z, 0.0)

    def _logsumexp(z):
        return jax.nn.logsumexp(z, axis=-1)

    @jax.custom_jvp
    def _pin_infinite_rows(z):
        # Rows with +inf logits as 0 at +inf and -inf elsewhere: softmax's limit there (see
        # symlik.compiler._numpy_runtime._pin_infinite_rows). No branch: jit.
        top = jnp.max(z, axis=-1, keepdims=True) == jnp.inf
        return jnp.where(top, jnp.where(z == jnp.inf, 0.0, -jnp.inf), z)

    @_pin_infinite_rows.defjvp
    def _pin_jvp(primals, tangents):
        # The pinned row is z minus its (infinite) max and the kernel is invariant to that
        # shift: the tangent passes through unchanged.
        (z,), (t,) = primals, tangents
        return _pin_infinite_rows(z), t

    def _log_rest(z):
        # (m, log1p(rest)) of rows without a +inf entry: m = z_t at the first argmax t, rest the
        # sum of exp(z - m) over the other entries. logsumexp(z) = m + log1p(rest) holds for any
        # fixed t, so jax.grad through the gathered m is exact, and log1p keeps the digits of a
        # rest of 9e-14 that log(1 + rest) rounds away.
        t = jnp.argmax(z, axis=-1, keepdims=True)
        m = jnp.take_along_axis(z, t, axis=-1)
        finite = jnp.isfinite(m)
        m = jnp.where(finite, m, 0.0)
        e = jnp.where(jnp.arange(z.shape[-1]) == t, 0.0, jnp.exp(z - m))
        rest = jnp.sum(e, axis=-1, keepdims=True)
        # a row of -inf only: log 0 = -inf (log's argument is 1 elsewhere: where() would send its
        # nan derivative at 0 into every row)
        return m, jnp.where(finite, jnp.log1p(rest), jnp.log(jnp.where(finite, 1.0, rest)))

    def _neg_log_softmax(z):
        # -log softmax(z) entry by entry, (m - z_k) + log1p(rest): a cross-entropy summed as
        # y_k times these terms >= 0 does not cancel (see _numpy_runtime._neg_log_softmax).
        z = _pin_infinite_rows(z)
        m, log_rest = _log_rest(z)
        return (m - z) + log_rest

    def _logsumexp_minus(z, zy):
        # (m - z_y) + log1p(rest): exactly 0 + log(1 + tiny) for a confident right answer.
        # A row with +inf logits: log(number of +inf entries) when z_y is one, +inf otherwise
        # (the row as 0 at +inf and -inf elsewhere), where inf - inf would be nan. (No branch: jit.)
        top = jnp.max(z, axis=-1, keepdims=True) == jnp.inf
        z = jnp.where(top, jnp.where(z == jnp.inf, 0.0, -jnp.inf), z)
        zy = jnp.where(top[..., 0], jnp.where(zy == jnp.inf, 0.0, -jnp.inf), zy)
        m, log_rest = _log_rest(z)
        return (m[..., 0] - zy) + log_rest[..., 0]

    def _xmul(x, v):
        # x v with 0 v = 0 for infinite v too; jax.grad sends 0 into the unselected product.
        product = x * v
        return jnp.where(x == 0, jnp.zeros_like(product), product)

    def _event(a):
        return a[..., None] if a.ndim else a

    def _gather(a, index):
        index = jnp.asarray(index)[..., None]
        shape = jnp.broadcast_shapes(a.shape[:-1], index.shape[:-1])
        a = jnp.broadcast_to(a, shape + a.shape[-1:])
        return jnp.take_along_axis(a, jnp.broadcast_to(index, shape + (1,)), axis=-1)[..., 0]

    def _stack(entries, shape, *arrays):
        # One observation's vector or matrix, each entry broadcast to the inputs' shape
        # (as the NumPy runtime's _stack).
        floats = [jnp.asarray(a).dtype for a in arrays if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating)]
        dtype = jnp.result_type(*floats) if floats else jnp.result_type(float)
        values = [jnp.asarray(e, dtype=dtype) for e in entries]
        obs = jnp.broadcast_shapes(*(jnp.shape(a) for a in arrays), *(v.shape for v in values))
        out = jnp.stack([jnp.broadcast_to(v, obs) for v in values], axis=-1)
        return out.reshape(*obs, *shape)

    def _host(routine, nu, x):
        # log I_nu of any order: jax.scipy.special has i0e and i1e only, so NumPy's routine
        # (scipy's ive, or the series near 0) runs on the host; nu (D/2 - 1, D from the shape) is a number.
        x = jnp.asarray(x)
        out = jax.ShapeDtypeStruct(x.shape, x.dtype)
        return jax.pure_callback(lambda v: np.asarray(routine(nu, v), dtype=v.dtype), out, x, vmap_method="broadcast_all")

    def _on_host(routine, power):
        # log I_nu(x) (power 0) and log(I_nu(x) / x^nu) (power 1), whose derivatives are
        # I_(nu+1)/I_nu + (1 - power) nu/x (DLMF 10.29.2, 10.29.4)
        @functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
        def log_bessel(nu, x):
            return _host(routine, nu, x)

        @log_bessel.defjvp
        def _jvp(nu, primals, tangents):
            (x,), (dx,) = primals, tangents
            slope = _host(_numpy_runtime._iv_ratio, nu, x)
            return log_bessel(nu, x), dx * (slope if power else slope + nu / x)

        return log_bessel

    return {
        "jax": jax,
        "_log_iv": _on_host(_numpy_runtime._log_iv, 0),
        "_log_iv_over_power": _on_host(_numpy_runtime._log_iv_over_power, 1),
        "_iv_ratio": lambda nu, x: _host(_numpy_runtime._iv_ratio, nu, x),
        "_stack": _stack,
        "_scaled_square": _numpy_runtime._scaled_square,  # (arithmetic only: the library's arrays pass through)
        "jnp": jnp,
        "_softplus": _softplus,
        "_logsumexp": _logsumexp,
        "_logsumexp_minus": _logsumexp_minus,
        "_neg_log_softmax": _neg_log_softmax,
        "_pin_infinite_rows": _pin_infinite_rows,
        "_xlogy": jax.scipy.special.xlogy,
        "_xmul": _xmul,
        "_xlog1py": jax.scipy.special.xlog1py,
        "_sigmoid": jax.nn.sigmoid,
        "_gammaln": jax.scipy.special.gammaln,
        "_erf": jax.scipy.special.erf,
        "_erfc": jax.scipy.special.erfc,
        "_trigamma": lambda x: jax.scipy.special.polygamma(1, x),  # a shape parameter's Hessian (gamma k, NB n)
        # num / den with 0 where den == 0 (a class weighted 0 costs 0, not nan).
        "_safe_ratio": lambda num, den: jnp.where(den == 0, 0.0, num / jnp.where(den == 0, 1.0, den)),
        "_event": _event,
        "_gather": _gather,
    }


def load(source: str, meta: dict, **kernel_kwargs):
    functions = exec_source(source, _namespace(), meta["label"])
    return JaxKernel.from_meta(functions=functions, source=source, meta=meta, **kernel_kwargs)


class JaxKernel(LibraryKernel):
    def _as_array(self, value, like):
        import jax.numpy as jnp

        return jnp.asarray(value)

    def _kind(self, a) -> str:
        return np.dtype(a.dtype).kind

    def _cast_float(self, a, ref):
        import jax.numpy as jnp

        return a.astype(ref.dtype if ref is not None else jnp.result_type(float))

    def _xp(self):
        import jax.numpy as jnp

        return jnp

    def _concrete(self, a) -> bool:
        import jax

        return not isinstance(a, jax.core.Tracer)
