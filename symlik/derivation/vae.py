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

from symlik.analysis.divergence import kl
from symlik.core.algebra import tidy_logs
from symlik.core.document import Document
from symlik.core.errors import UnknownNameError
from symlik.core.notation import form, term
from symlik.core.step import Step, reason
from symlik.derivation.pipeline import derive

DECODERS = ("gaussian", "bernoulli")

_K = sp.Symbol("k", integer=True, positive=True)
_D = sp.Symbol("D", integer=True, positive=True)
_J_INDEX = sp.Symbol("j", integer=True, positive=True)
_J = sp.Symbol("J", integer=True, positive=True)
# Names the reasons mention: the data x, the decoder's mean xhat and logit ell_k, the encoder's
# mu and sigma, the latent z, its one sample z~ and the noise epsilon.
_X, _XHAT, _LOGIT_K = sp.symbols("x xhat ell_k")
_MU, _SIGMA, _Z, _Z_SAMPLE, _EPSILON = sp.symbols("mu sigma z ztilde epsilon")


def kl_term():
    """KL(N(mu, diag sigma^2) || N(0, I)) over the J latent dimensions, derived by symlik.kl."""
    r = kl("diag_normal", "diag_normal", p_options={"sigma": "per_dim"}, q_params={"mu": 0, "sigma": 1})
    return r.expr.xreplace({r.index: _J_INDEX, r.p.K: _J}), r


def reconstruction_term(decoder: str):
    """-log p(x | z) for the decoder, in x and the decoder's outputs; and the derivation behind it."""
    if decoder == "gaussian":
        d = derive("diag_normal")
        expr = (d.scale * d.loss.expr + tidy_logs(d.offset)).xreplace(_in_vae_names(d, decoder))
        return expr, d
    if decoder == "bernoulli":
        d = derive("bernoulli", link="logit")
        per_pixel = (d.scale * d.loss.expr + d.offset).xreplace(_in_vae_names(d, decoder))
        return sp.Sum(per_pixel, (_K, 1, _D)), d
    raise UnknownNameError("decoder", decoder, DECODERS)


def _in_vae_names(d, decoder: str) -> dict:
    """The derivation's symbols -> the VAE's: y -> x_k, mu -> xhat_k, sigma -> sigma_x, logits -> ell_k."""
    x = sp.IndexedBase("x", real=True)
    if decoder == "gaussian":
        xhat = sp.IndexedBase("xhat", real=True)
        return {d.y: x[_K], d.symbols["mu"]: xhat[_K], d.symbols["sigma"]: sp.Symbol("sigma_x", positive=True)}
    return {d.y: x[_K], d.symbols["logits"]: sp.IndexedBase("ell", real=True)[_K]}


def vae_document(decoder: str):
    """The worked derivation of the negative ELBO with a Gaussian or Bernoulli decoder."""
    if decoder not in DECODERS:
        raise UnknownNameError("decoder", decoder, DECODERS)
    kl_expr, kl_result = kl_term()
    recon, d = reconstruction_term(decoder)

    expect, neg_expect, kl_shown, one_sample = term("expected_log_decoder"), term("expected_neg_log_decoder"), term("kl_encoder_prior"), term("one_sample_nll")
    loss_lhs = form("vae_loss", _X)

    names = _in_vae_names(d, decoder)
    if decoder == "gaussian":
        decoder_text = reason(
            "A Gaussian decoder ", term("gaussian_decoder"), " outputs the mean ", _XHAT, ". Its NLL, derived by "
            f"symlik.derive('diag_normal'), is identified as `{d.loss.name}`, ", d.loss.expr.xreplace(names),
            ", with scale ", d.scale.xreplace(names), ", plus a constant.",
        )
        title = "The VAE objective with a Gaussian decoder"
    else:
        decoder_text = reason(
            "A Bernoulli decoder ", term("bernoulli_decoder"), " outputs one logit ", _LOGIT_K, " per component. Its NLL, "
            "derived by symlik.derive('bernoulli', link='logit') per component and summed, is identified as "
            f"`{d.loss.name}` ({d.loss.title}) on logits, in the stable form ",
            (d.scale * d.loss.expr).xreplace(names), ".",
        )
        title = "The VAE objective with a Bernoulli decoder"

    steps = (
        Step(
            "The evidence lower bound",
            sp.Add(expect, -kl_shown, evaluate=False),
            reason(
                "For any encoder ", term("encoder"), ", Jensen's inequality bounds the log evidence from below: ", term("elbo_bound"),
                ", the ELBO (Kingma and Welling, 2014).",
            ),
            sp.GreaterThan(term("log_evidence"), form("elbo_of", _X), evaluate=False),
        ),
        Step(
            "The loss is the negative ELBO",
            sp.Add(neg_expect, kl_shown, evaluate=False),
            reason(
                "Training minimises, so negate: a reconstruction term (the expected NLL of ", _X, " under the "
                "decoder) plus a regulariser pulling the encoder towards the prior.",
            ),
            loss_lhs,
        ),
        Step(
            "The KL term in closed form",
            kl_expr,
            reason(
                "With ", term("gaussian_encoder"), " over ", _J, " latent dimensions and the prior ", term("standard_normal"),
                ", symlik.kl integrates the log-ratio per dimension (see kl-diag-normal-standard-normal): ",
                term("standard_normal_kl"), ".",
            ),
            kl_shown,
        ),
        Step(
            "Reparameterise the reconstruction term",
            one_sample,
            reason(
                "Write ", term("reparameterisation"), " with ", term("standard_noise"), ", so the expectation is over ", _EPSILON,
                " and gradients reach ", _MU, " and ", _SIGMA, "; one sample ", _Z_SAMPLE, " per example gives an "
                "unbiased estimate.",
            ),
            neg_expect,
            relation="≈",
        ),
        Step(
            f"The {decoder.capitalize()} decoder",
            recon,
            decoder_text,
            one_sample,
        ),
        Step(
            "The VAE loss per example",
            recon + kl_expr,
            reason(
                "Reconstruction NLL plus the KL term: the negative ELBO, estimated with one sample of ", _Z,
                ". Terms free of the networks' outputs (such as ", term("gaussian_decoder_constant"), ") do not change the "
                "gradients.",
            ),
            loss_lhs,
            relation="≈",
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
