"""Errors point the right way: the name a user meant, the default they did not know, the flag
they type, and no empty lists or raw None (issue 16)."""

from __future__ import annotations

import pytest

import symlik
from symlik.apps.cli import main


def _cli_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symlik: error:") and err.count("\n") == 1
    return err


@pytest.mark.parametrize("typed, meant", [("gaussian", "normal"), ("bce", "bernoulli"), ("softmax", "categorical")])
def test_a_common_name_suggests_the_catalog_name(typed, meant, capsys):
    err = _cli_error(["derive", typed], capsys)
    assert f"did you mean '{meant}'" in err
    with pytest.raises(symlik.SymlikError, match=f"did you mean '{meant}'"):
        symlik.get(typed)


def test_a_spelling_mistake_still_suggests_by_spelling():
    with pytest.raises(symlik.SymlikError, match="did you mean 'bernoulli'"):
        symlik.get("bernouli")


def test_a_density_that_fails_on_the_default_support_says_what_the_default_is(capsys):
    err = _cli_error(["derive", "--density", "exp(-y*q)*q", "--param", "q:positive"], capsys)
    assert "integrates to oo" in err and "real line" in err and "--support" in err
    with pytest.raises(symlik.SymlikError, match=r"real line.*support="):
        symlik.custom("mine", density="exp(-y*q)*q", params={"q": "positive"})


def test_the_support_note_is_not_given_when_a_support_was(capsys):
    err = _cli_error(["derive", "--density", "exp(-y*q)*q", "--param", "q:positive", "--support", "real"], capsys)
    assert "integrates to oo" in err and "real line" not in err


def test_the_cli_names_its_flag_not_the_keyword(capsys):
    err = _cli_error(["derive", "--density", "2*q*exp(-y*q)", "--param", "q:positive", "--support", "positive"], capsys)
    assert "--normalize" in err and "normalize=True" not in err
    with pytest.raises(symlik.SymlikError, match="normalize=True"):  # the Python API keeps its keyword
        symlik.custom("mine", density="2*q*exp(-y*q)", params={"q": "positive"}, support="positive")


def test_an_option_of_a_distribution_without_options(capsys):
    err = _cli_error(["derive", "normal", "--option", "sigma=per_dim"], capsys)
    assert "normal takes no options" in err and "known: )" not in err


def test_an_unknown_option_lists_the_known_ones(capsys):
    err = _cli_error(["derive", "diag_normal", "--option", "scale=per_dim"], capsys)
    assert "(known: sigma)" in err


@pytest.mark.parametrize(
    "call",
    [
        lambda: symlik.compile("normal", label_smoothing=0.1),
        lambda: symlik.compile("poisson", pos_weight=2.0),
        lambda: symlik.get("normal", sigma="per_dim"),
        lambda: symlik.derive("normal", link="nope"),
    ],
)
def test_no_raw_none_in_messages(call):
    with pytest.raises(symlik.SymlikError) as info:
        call()
    assert "None" not in str(info.value), str(info.value)
