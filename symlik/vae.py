"""The VAE objective, worked out: reconstruction NLL plus KL, for two decoders.

Every formula in the document comes from symlik itself: the KL term from
``symlik.kl`` (a diagonal normal encoder from the standard normal prior),
the reconstruction term from ``symlik.derive`` (``diag_normal`` for a
Gaussian decoder, ``bernoulli`` with the logit link for a Bernoulli
decoder), each with its proven identification.

Notation: x has D components (k = 1..D); the encoder q(z | x) = N(mu, diag sigma^2)
has J latent dimensions (j = 1..J); the prior is p(z) = N(0, I).
"""

from __future__ import annotations

import sympy as sp

from .algebra import tidy_logs
from .errors import UnknownNameError

DECODERS = ("gaussian", "bernoulli")

_K = sp.Symbol("k", integer=True, positive=True)
_D = sp.Symbol("D", integer=True, positive=True)
_J_INDEX = sp.Symbol("j", integer=True, positive=True)
_J = sp.Symbol("J", integer=True, positive=True)


def kl_term():
    """KL(N(mu, diag sigma^2) || N(0, I)) over the J latent dimensions, derived by symlik.kl."""
    from .divergence import kl

    r = kl("diag_normal", "diag_normal", p_options={"sigma": "per_dim"}, q_params={"mu": 0, "sigma": 1})
    return r.expr.xreplace({r.index: _J_INDEX, r.p.K: _J}), r


def reconstruction_term(decoder: str):
    """-log p(x | z) for the decoder, in x and the decoder's outputs; and the derivation behind it."""
    from .derivation import derive

    x = sp.IndexedBase("x", real=True)
    if decoder == "gaussian":
        d = derive("diag_normal")
        xhat = sp.IndexedBase("xhat", real=True)
        sigma_x = sp.Symbol("sigma_x", positive=True)
        mapping = {d.y: x[_K], d.symbols["mu"]: xhat[_K], d.symbols["sigma"]: sigma_x}
        expr = (d.scale * d.loss.expr + tidy_logs(d.offset)).xreplace(mapping)
        return expr, d
    if decoder == "bernoulli":
        d = derive("bernoulli", link="logit")
        logits = sp.IndexedBase("ell", real=True)
        per_pixel = (d.scale * d.loss.expr + d.offset).xreplace({d.y: x[_K], d.symbols["logits"]: logits[_K]})
        return sp.Sum(per_pixel, (_K, 1, _D)), d
    raise UnknownNameError("decoder", decoder, DECODERS)


def vae_document(decoder: str):
    """The worked derivation of the negative ELBO with a Gaussian or Bernoulli decoder."""
    from .derivation.derivation import Step
    from .render.document import Document, Shown

    if decoder not in DECODERS:
        raise UnknownNameError("decoder", decoder, DECODERS)
    kl_expr, kl_result = kl_term()
    recon, d = reconstruction_term(decoder)

    expect = Shown("E_q[log p(x | z)]", r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[\log p_{\theta}(x \mid z)\right]")
    neg_expect = Shown("E_q[-log p(x | z)]", r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[-\log p_{\theta}(x \mid z)\right]")
    kl_shown = Shown("KL(q(z | x) || p(z))", r"\operatorname{KL}\left(q_{\phi}(z \mid x) \,\middle\|\, p(z)\right)")
    one_sample = Shown("-log p(x | z~)", r"-\log p_{\theta}\left(x \mid \tilde{z}\right)")
    loss_lhs = r"\mathcal{L}(x)"

    if decoder == "gaussian":
        decoder_text = (
            "A Gaussian decoder p(x | z) = N(xhat(z), sigma_x^2 I) outputs the mean xhat. Its NLL, derived by "
            f"symlik.derive('diag_normal'), is identified as `{d.loss.name}` ({d.loss.title}) with scale "
            f"{sp.sstr(d.scale).replace('sigma', 'sigma_x')}, plus a constant."
        )
        title = "The VAE objective with a Gaussian decoder"
    else:
        decoder_text = (
            "A Bernoulli decoder p(x | z) = prod_k Bernoulli(x_k | sigmoid(ell_k)) outputs one logit ell_k per "
            "component. Its NLL, derived by symlik.derive('bernoulli', link='logit') per component and summed, "
            f"is identified as `{d.loss.name}` ({d.loss.title}) on logits, in the stable form log(1 + e^ell) - x ell."
        )
        title = "The VAE objective with a Bernoulli decoder"

    steps = (
        Step(
            "The evidence lower bound",
            sp.Add(expect, -kl_shown, evaluate=False),
            "For any encoder q(z | x), Jensen's inequality bounds the log evidence from below: "
            "log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z)), the ELBO (Kingma and Welling, 2014).",
            r"\log p_{\theta}(x) \geq \operatorname{ELBO}(x)",
            "log p(x) >= ELBO(x)",
        ),
        Step(
            "The loss is the negative ELBO",
            sp.Add(neg_expect, kl_shown, evaluate=False),
            "Training minimises, so negate: a reconstruction term (the expected NLL of x under the decoder) "
            "plus a regulariser pulling the encoder towards the prior.",
            loss_lhs,
            "L(x)",
        ),
        Step(
            "The KL term in closed form",
            kl_expr,
            "With q(z | x) = N(mu, diag sigma^2) over J latent dimensions and the prior N(0, I), symlik.kl "
            "integrates the log-ratio per dimension (see kl-diag-normal-standard-normal): "
            "1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).",
            kl_shown._latex(None),
            "KL(q || p)",
        ),
        Step(
            "Reparameterise the reconstruction term",
            one_sample,
            "Write z = mu + sigma * eps with eps ~ N(0, I), so the expectation is over eps and gradients reach "
            "mu and sigma; one sample z~ per example gives an unbiased estimate.",
            neg_expect._latex(None) + r" \approx",
            "E_q[-log p(x | z)] ~",
        ),
        Step(
            f"The {decoder.capitalize()} decoder",
            recon,
            decoder_text,
            one_sample._latex(None),
            "-log p(x | z~)",
        ),
        Step(
            "The VAE loss per example",
            recon + kl_expr,
            "Reconstruction NLL plus the KL term: the negative ELBO, estimated with one sample of z. "
            "Terms free of the networks' outputs (such as D/2 log(2 pi sigma_x^2)) do not change the gradients.",
            loss_lhs + r" \approx",
            "L(x) ~",
        ),
    )
    return Document(
        slug=f"vae-{decoder}-decoder",
        title=title,
        intro=(
            "x has D components (k = 1..D); the encoder outputs mu and sigma for J latent dimensions "
            "(j = 1..J); the prior is N(0, I). Every formula below is derived by symlik."
        ),
        steps=steps,
        summary=(
            ("decoder", decoder),
            ("reconstruction", d.loss.name or "its own NLL"),
            ("KL", sp.sstr(kl_expr)),
        ),
        result=recon + kl_expr,
        extra={"kl": kl_result, "derivation": d},
    )
