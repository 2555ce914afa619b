"""The torch backend (``backend="torch"``): differentiable losses on any torch device.

Needs torch (the ``torch`` extra). This is the runtime (no SymPy): the kernel
is the NumPy backend's source printed with torch's names by the printer,
``xp_printers.generate_torch``, run here in torch's namespace; autograd
differentiates through it, so a symlik loss drops into a training loop.
"""

from __future__ import annotations

from symlik.compiler import _numpy_runtime
from symlik.compiler.numpy_backend import exec_source
from symlik.compiler.xp_kernel import LibraryKernel


def _namespace():
    import torch

    def _softplus(z):
        # logaddexp(z, 0): stable, and its derivative is sigmoid(z) everywhere.
        return torch.logaddexp(z, torch.zeros((), dtype=z.dtype, device=z.device))

    def _logsumexp(z):
        return torch.logsumexp(z, dim=-1)

    class _PinRows(torch.autograd.Function):
        # Rows with +inf logits as 0 at +inf and -inf elsewhere: softmax's limit there (see
        # symlik.compiler._numpy_runtime._pin_infinite_rows), where inf - inf would be nan.
        # The pinned row is z minus its (infinite) max, and the kernel is invariant to that
        # shift, so the gradient passes through unchanged: softmax's limit minus the target.
        @staticmethod
        def forward(z, top):
            zero, minf = torch.zeros((), dtype=z.dtype, device=z.device), torch.full((), -torch.inf, dtype=z.dtype, device=z.device)
            return torch.where(top, torch.where(z == torch.inf, zero, minf), z)

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad, *_):
            return grad, None

    def _pin_infinite_rows(z):
        if z.numel() == 0 or not bool(torch.amax(z) == torch.inf):  # the common case: one whole-tensor max
            return z
        return _PinRows.apply(z, torch.amax(z, dim=-1, keepdim=True) == torch.inf)

    def _log_rest(z):
        # (m, log1p(rest)) of rows without a +inf entry: m = z_t at the first argmax t, rest the
        # sum of exp(z - m) over the other entries. logsumexp(z) = m + log1p(rest) holds for any
        # fixed t, so autograd through the gathered m is exact (amax would split a tie), and
        # log1p keeps the digits of a rest of 9e-14 that log(1 + rest) rounds away.
        t = torch.argmax(z, dim=-1, keepdim=True)
        m = torch.gather(z, -1, t)
        finite = torch.isfinite(m)
        m = torch.where(finite, m, torch.zeros_like(m))
        e = torch.exp(z - m)
        e = torch.where(torch.arange(z.shape[-1], device=z.device) == t, torch.zeros_like(e), e)
        rest = torch.sum(e, dim=-1, keepdim=True)
        # a row of -inf only: log 0 = -inf (log's argument is 1 elsewhere: where() would send its
        # nan derivative at 0 into every row)
        return m, torch.where(finite, torch.log1p(rest), torch.log(torch.where(finite, torch.ones_like(rest), rest)))

    def _neg_log_softmax(z):
        # -log softmax(z) entry by entry, (m - z_k) + log1p(rest): a cross-entropy summed as
        # y_k times these terms >= 0 does not cancel (see _numpy_runtime._neg_log_softmax).
        z = _pin_infinite_rows(z)
        m, log_rest = _log_rest(z)
        return (m - z) + log_rest

    def _logsumexp_minus(z, zy):
        # (m - z_y) + log1p(rest): exactly 0 + log(1 + tiny) for a confident right answer.
        top = torch.amax(z, dim=-1, keepdim=True) == torch.inf
        if bool(top.any()):
            # A row with +inf logits: log(number of +inf entries) when z_y is one, +inf otherwise
            # (the row as 0 at +inf and -inf elsewhere), where inf - inf would be nan.
            zero, minf = torch.zeros((), dtype=z.dtype, device=z.device), torch.full((), -torch.inf, dtype=z.dtype, device=z.device)
            z = torch.where(top, torch.where(z == torch.inf, zero, minf), z)
            zy = torch.where(top[..., 0], torch.where(zy == torch.inf, zero, minf), zy)
        m, log_rest = _log_rest(z)
        return (m[..., 0] - zy) + log_rest[..., 0]

    def _xmul(x, v):
        # x v with 0 v = 0 for infinite v too (a zero weight on an infinite logit is the limit 0).
        # Autograd sends a zero gradient into the product where x == 0, and its derivative in v is x.
        product = x * v
        return torch.where(x == 0, torch.zeros_like(product), product)

    def _event(a):
        return a[..., None] if a.ndim else a

    def _gather(a, index):
        index = index[..., None].long()
        shape = torch.broadcast_shapes(a.shape[:-1], index.shape[:-1])
        a = a.expand(*shape, a.shape[-1])
        return torch.gather(a, -1, index.expand(*shape, 1))[..., 0]

    def _stack(entries, shape, *arrays):
        # One observation's vector or matrix, each entry broadcast to the inputs' shape
        # (as the NumPy runtime's _stack); torch.stack keeps autograd's graph.
        like = next(a for a in arrays if a.is_floating_point()) if any(a.is_floating_point() for a in arrays) else None
        dtype = like.dtype if like is not None else torch.get_default_dtype()
        device = arrays[0].device if arrays else None
        values = [torch.as_tensor(e, dtype=dtype, device=device) for e in entries]
        obs = torch.broadcast_shapes(*(a.shape for a in arrays), *(v.shape for v in values))
        out = torch.stack([v.expand(obs) for v in values], dim=-1)
        return out.reshape(*obs, *shape)

    def _on_host(routine, power):
        class LogBessel(torch.autograd.Function):
            # log I_nu(x) of any order (power 0) and log(I_nu(x) / x^nu) (power 1): torch has i0e
            # and i1e only, so the value is NumPy's routine (scipy's ive, or the series near 0) on
            # the host, and so is the derivative I_(nu+1)/I_nu + (1 - power) nu/x (DLMF 10.29.2,
            # 10.29.4). nu is a number (D/2 - 1, D read from the shape), never a tensor.
            @staticmethod
            def forward(ctx, nu, x):
                ctx.nu = nu
                ctx.save_for_backward(x)
                return _host(routine, nu, x)

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                slope = _host(_numpy_runtime._iv_ratio, ctx.nu, x)
                return None, grad * (slope if power else slope + ctx.nu / x)

        return LogBessel.apply

    def _host(routine, nu, x):
        value = routine(nu, x.detach().cpu().numpy())
        return torch.as_tensor(value, dtype=x.dtype, device=x.device)

    return {
        "torch": torch,
        "_log_iv": _on_host(_numpy_runtime._log_iv, 0),
        "_log_iv_over_power": _on_host(_numpy_runtime._log_iv_over_power, 1),
        "_iv_ratio": lambda nu, x: _host(_numpy_runtime._iv_ratio, nu, x),
        "_stack": _stack,
        "_scaled_square": _numpy_runtime._scaled_square,  # (arithmetic only: the library's arrays pass through)
        "_softplus": _softplus,
        "_logsumexp": _logsumexp,
        "_logsumexp_minus": _logsumexp_minus,
        "_neg_log_softmax": _neg_log_softmax,
        "_pin_infinite_rows": _pin_infinite_rows,
        "_xlogy": torch.special.xlogy,
        "_xmul": _xmul,
        "_xlog1py": torch.special.xlog1py,
        "_sigmoid": torch.sigmoid,
        "_gammaln": torch.special.gammaln,
        "_erf": torch.special.erf,
        "_erfc": torch.special.erfc,
        "_trigamma": lambda x: torch.special.polygamma(1, x),  # a shape parameter's Hessian (gamma k, NB n)
        # num / den with 0 where den == 0 (a class weighted 0 costs 0, not nan).
        "_safe_ratio": lambda num, den: torch.where(den == 0, torch.zeros_like(num * den), num / torch.where(den == 0, torch.ones_like(den), den)),
        "_event": _event,
        "_gather": _gather,
    }


def load(source: str, meta: dict, **kernel_kwargs):
    functions = exec_source(source, _namespace(), meta["label"])
    return TorchKernel.from_meta(functions=functions, source=source, meta=meta, **kernel_kwargs)


class TorchKernel(LibraryKernel):
    def _as_array(self, value, like):
        import torch

        if isinstance(value, torch.Tensor):
            return value
        device = like.device if isinstance(like, torch.Tensor) else None
        t = torch.as_tensor(value, device=device)
        if t.is_floating_point() and isinstance(like, torch.Tensor) and like.is_floating_point():
            t = t.to(like.dtype)
        return t

    def _kind(self, a) -> str:
        import torch

        if a.is_floating_point():
            return "f"
        if a.dtype == torch.bool:
            return "b"
        return "c" if a.is_complex() else "i"

    def _cast_float(self, a, ref):
        import torch

        return a.to(ref.dtype if ref is not None else torch.get_default_dtype())

    def _to_numpy(self, a):
        return a.detach().cpu().numpy()

    def _xp(self):
        import torch

        return torch
