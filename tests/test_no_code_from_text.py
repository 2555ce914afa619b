"""No text a user gives ever runs as code (issue 17).

Every public function, every public method of the objects they return, and every CLI option
is called with a string that creates a file when Python evaluates it, in each argument
position in turn (as the value itself, as a dict value and as a dict key). Afterwards no file
may exist. The callables are found by introspection, so a new public function or method is
covered (and a new public function without a base call below fails ``test_every_public_name``).
"""

from __future__ import annotations

import contextlib
import inspect
import io

import pytest
import sympy as sp

import symlik
from symlik.apps import cli


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("SYMLIK_NO_CACHE", "1")


@pytest.fixture
def sentinel(tmp_path):
    return tmp_path / "SENTINEL"


def payload(sentinel) -> str:
    # os.system returns 0, so a non-strict sympify would even accept the value as a number.
    return f"__import__('os').system('touch {sentinel}')"


Y, M = sp.symbols("y m", real=True)


def _custom_spec():
    return symlik.custom("probe", density=sp.exp(-(Y - M) ** 2 / 2) / sp.sqrt(2 * sp.pi), observed=Y, params={M: "real"})


# A valid call of each public callable: the positional and keyword arguments that the probes
# replace one at a time. Keys are the names in symlik.__all__.
BASE_CALLS = {
    "names": ((), {}),
    "get": (("normal",), {}),
    "derive": (("diag_normal",), {"predict": ("mu",), "link": None, "options": {"sigma": "per_dim"}}),
    "compile": (("normal",), {"target": "loss", "backend": "numpy", "reduction": "mean", "fixed": {"sigma": 2.0},
                             "predict": ("mu",), "link": None, "options": {}}),
    "custom": (("probe",), {"density": "exp(-(y - m)**2/2)/sqrt(2*pi)", "observed": "y", "params": {"m": "real"},
                            "support": "real", "predict": ("m",)}),
    "parse_expression": (("exp(-y)",), {"names": {"y": Y}, "what": "formula"}),
    "kl": (("normal", "normal"), {"p_params": {"mu": 0}, "q_params": {"mu": 1}}),
    "compile_information": ((symlik.derive("normal"),), {"target": "fisher", "fixed": {"sigma": 1.0}}),
    "vae_document": (("bernoulli",), {}),
    "from_sympy_stats": ((), {}),  # needs a random variable: probed by its own test below
    "UnknownNameError": (("distribution", "normall", ("normal",)), {}),
    "time_budget": ((1.0,), {}),
    "implied_density": (("abs(y - m)",), {"params": {"m": "real"}, "observed": "y", "predict": ("m",), "support": "real",
                                   "inner": {}}),
}
# Classes constructed internally, not from user values: their own methods are probed instead.
NOT_USER_ENTRY = {"Derivation", "Step", "Kernel", "Loss", "Distribution", "Param", "ConstraintError",
                  "NotSupportedError", "SymlikError", "ParseError", "DensityError", "BudgetExceeded"}


def _variants(value, text):
    """The hostile forms one argument can take, given its valid value."""
    yield text
    if isinstance(value, dict):
        for key in value:
            yield {**value, key: text}
        yield {**value, text: 1}
    if isinstance(value, tuple):
        yield (text,)


def _probe_call(fn, args, kwargs, text, sentinel, where):
    """Call ``fn`` with each argument replaced by a hostile variant; no file may appear."""
    positions = [("arg", i, v) for i, v in enumerate(args)] + [("kw", k, v) for k, v in kwargs.items()]
    tried = 0
    for kind, key, value in positions:
        for hostile in _variants(value, text):
            a, kw = list(args), dict(kwargs)
            if kind == "arg":
                a[key] = hostile
            else:
                kw[key] = hostile
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                fn(*a, **kw)
            tried += 1
            assert not sentinel.exists(), f"{where}: argument {key!r} = {hostile!r} ran as code"
    # A **kwargs parameter: the hostile text as the value of a known and an unknown name.
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values()):
        for name in ("mu", "sigma", "weight", "label_smoothing", text[:8].replace("(", "")):
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                fn(*args, **{**kwargs, name: text})
            tried += 1
            assert not sentinel.exists(), f"{where}: keyword {name}={text!r} ran as code"
    return tried


def test_every_public_name_has_a_probe():
    callables = {n for n in symlik.__all__ if callable(getattr(symlik, n))}
    missing = callables - set(BASE_CALLS) - NOT_USER_ENTRY
    assert not missing, f"public callables without a base call in BASE_CALLS: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(n for n in BASE_CALLS if n != "from_sympy_stats"))
def test_public_function_runs_no_text(name, sentinel):
    args, kwargs = BASE_CALLS[name]
    fn = getattr(symlik, name)
    fn(*args, **kwargs)  # the base call is valid, so each probe differs from it in one argument only
    tried = _probe_call(fn, args, kwargs, payload(sentinel), sentinel, f"symlik.{name}")
    assert tried > 0 or not inspect.signature(fn).parameters


def test_from_sympy_stats_runs_no_text(sentinel):
    from sympy import stats

    mu = sp.Symbol("mu", real=True)
    rv = stats.Normal("x", mu, 1)
    symlik.from_sympy_stats(rv, name="n", params={"mu": "real"})
    _probe_call(symlik.from_sympy_stats, (rv,), {"name": "n", "params": {"mu": "real"}, "predict": ("mu",)},
                payload(sentinel), sentinel, "symlik.from_sympy_stats")


def _public_methods(obj):
    for name, member in inspect.getmembers(type(obj)):
        if name.startswith("_") or not callable(member) or isinstance(member, type):
            continue
        yield name, getattr(obj, name)


# Valid arguments for the public methods that take any (the rest are probed by their **kwargs,
# or take none). A method missing here is still called with one hostile positional argument.
METHOD_CALLS = {
    "param": (("mu",), {}),
    "with_options": ((), {"reduction": "mean"}),
    "chance_loss": ((), {"mu": 0.5}),
    "symbol": (("mu",), {}),
    "grad": ((0.5, 1.0), {}),
    "value_and_grad": ((0.5, 1.0), {}),
    "elementwise": ((0.5, 1.0), {}),
    "from_meta": ((), {}),  # internal constructor; probed through its keywords only
}


@pytest.mark.parametrize("owner", ["derivation", "custom_derivation", "kernel", "distribution", "custom_distribution"])
def test_public_methods_run_no_text(owner, sentinel):
    text = payload(sentinel)
    obj = {
        "derivation": lambda: symlik.derive("normal"),
        "custom_derivation": lambda: symlik.derive(_custom_spec()),
        "kernel": lambda: symlik.compile("normal"),
        "distribution": lambda: symlik.get("normal"),
        "custom_distribution": _custom_spec,
    }[owner]()
    probed = []
    for name, method in _public_methods(obj):
        args, kwargs = METHOD_CALLS.get(name, ((), {}))
        try:
            params = inspect.signature(method).parameters.values()
        except (TypeError, ValueError):
            params = ()
        if not args and not kwargs and not params:
            continue
        if not args and not kwargs and not any(p.kind is p.VAR_KEYWORD for p in params):
            args = (None,) * sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                 for p in params) or (None,)
        _probe_call(method, args, kwargs, text, sentinel, f"{owner}.{name}")
        probed.append(name)
    if owner == "kernel":
        _probe_call(obj, (0.5, 1.0), {}, text, sentinel, "Kernel.__call__")
        probed.append("__call__")
    assert probed


def test_kernel_keyword_inputs_run_no_text(sentinel):
    text = payload(sentinel)
    k = symlik.compile("normal", target="nll")
    for kw in ({"mu": text, "y": 1.0, "sigma": 1.0}, {"mu": 0.5, "y": [text], "sigma": 1.0},
               {"mu": 0.5, "y": 1.0, "sigma": text}, {"weight": text, "mu": 0.5, "y": 1.0, "sigma": 1.0}):
        with contextlib.suppress(Exception):
            k(**kw)
        assert not sentinel.exists()


# Each CLI option, given the hostile text (in an otherwise valid command line).
CLI_LINES = [
    ["derive", "{x}"],
    ["derive", "normal", "--predict", "{x}"],
    ["derive", "normal", "--link", "{x}"],
    ["derive", "normal", "--option", "{x}"],
    ["derive", "normal", "--option", "sigma={x}"],
    ["derive", "normal", "--option", "{x}=1"],
    ["derive", "normal", "--format", "{x}"],
    ["derive", "--density", "{x}", "--param", "m:real"],
    ["derive", "--log-density", "{x}", "--param", "m:real"],
    ["derive", "--density", "exp(-(y-m)**2/2)", "--param", "{x}"],
    ["derive", "--density", "exp(-(y-m)**2/2)", "--param", "m:{x}"],
    ["derive", "--density", "exp(-(y-m)**2/2)", "--param", "{x}:real"],
    ["derive", "--density", "exp(-(y-m)**2/2)", "--param", "m:real", "--observed", "{x}"],
    ["derive", "--density", "exp(-y)", "--param", "m:real", "--support", "{x}"],
    ["derive", "--density", "exp(-y)", "--param", "m:real", "--support", "[0, {x})"],
    ["derive", "--density", "exp(-(y-m)**2/2)", "--param", "m:real", "--predict", "{x}"],
    ["plot", "{x}"],
    ["plot", "--compare", "{x}"],
    ["bench", "--n", "{x}"],
    ["bench", "--loss", "{x}", "--n", "10", "--repeat", "1"],
    ["bench", "--backend", "{x}", "--n", "10", "--repeat", "1"],
    ["bench", "--dtype", "{x}"],
]


@pytest.mark.parametrize("line", CLI_LINES, ids=lambda line: " ".join(line)[:50])
def test_cli_options_run_no_text(line, sentinel, capsys):
    text = payload(sentinel)
    argv = [part.replace("{x}", text) for part in line]
    with contextlib.suppress(SystemExit):
        code = cli.main(argv)
        assert code == 2, f"symlik {' '.join(argv)} exited {code}, not with a one-line error"
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not sentinel.exists()
