"""The declarative distribution spec.

A distribution is a tiny class (as in ``sympy.stats.crv_types``): its
parameters with their constraints, its support, its density as a SymPy
expression, the links it accepts, and references. Everything else
(derivation, identification, rendering, kernels, validation) is generic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp

from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError
from symlik.core.notation import SYMBOLS, symbol_display
from symlik.model import constraints as C
from symlik.model import links
from symlik.model.links import Link

# Display names live in the notation table (symlik.core.notation.SYMBOLS); this view of it is
# kept for apps/plot.py until it asks the table.
LATEX_NAMES = {name: shown.latex for name, shown in SYMBOLS.items()}


@dataclass(frozen=True)
class Param:
    name: str
    constraint: C.Constraint
    event: bool = False  # one value per component on the last axis
    doc: str = ""


class Distribution:
    """Base class. Subclasses set the class attributes and ``density``."""

    name: ClassVar[str]
    title: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    support: ClassVar[C.Support] = C.reals
    predict: ClassVar[tuple[str, ...]]
    links: ClassVar[tuple[str, ...]] = ()  # accepted non-identity links (for the predicted param)
    references: ClassVar[tuple[str, ...]] = ()
    event_size: ClassVar[str] = "D"  # name of the event-size symbol for vector distributions
    options: ClassVar[dict[str, tuple[str, ...]]] = {}  # option -> allowed values, first is default
    # Extra (predict, link, options) combinations shown by `symlik derive --all`.
    variants: ClassVar[tuple[dict, ...]] = ()
    custom: ClassVar[bool] = False  # True for user-defined densities (symlik.custom)
    # The title starts with a name (Cauchy, Student's t, von Mises): keep its capital mid-sentence.
    proper_noun: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        chosen = {}
        for key, allowed in self.options.items():
            value = options.pop(key, allowed[0])
            if value not in allowed:
                raise SymlikError(f"option {key} of {self.name} must be one of {', '.join(allowed)}; got {value!r}")
            chosen[key] = value
        if options and not self.options:
            raise SymlikError(f"{self.name} takes no options; got {next(iter(options))!r}")
        if options:
            raise UnknownNameError(f"option of {self.name}", next(iter(options)), self.options)
        self.chosen = chosen

    # ---- symbols -----------------------------------------------------------
    @property
    def is_event(self) -> bool:
        return self.support.event

    def param(self, name: str) -> Param:
        for p in self.effective_params():
            if p.name == name:
                return p
        raise UnknownNameError(f"parameter of {self.name}", name, self.param_names)

    def effective_params(self) -> tuple[Param, ...]:
        """Parameters after options (e.g. a per-dimension sigma becomes an event param)."""
        return self.params

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.effective_params())

    @property
    def index(self) -> sp.Symbol:
        """The event-axis index k (vector distributions only)."""
        return sp.Symbol("k", integer=True, positive=True)

    @property
    def K(self) -> sp.Symbol:
        """The event size (number of classes / dimensions)."""
        return sp.Symbol(self.event_size, integer=True, positive=True)

    def base(self, name: str) -> sp.Symbol | sp.IndexedBase:
        """The symbol (scalar) or IndexedBase (event) carrying a name."""
        if name == "y":
            return self._y_base()
        p = self.param(name)
        if p.event:
            return sp.IndexedBase(name, **p.constraint.assumptions)
        return sp.Symbol(name, **p.constraint.assumptions)

    def symbol(self, name: str) -> sp.Expr:
        """The per-component symbol: ``mu`` for scalars, ``mu[k]`` for event params."""
        b = self.base(name)
        return b[self.index] if isinstance(b, sp.IndexedBase) else b

    def _y_assumptions(self) -> dict:
        s = self.support
        if s.kind in ("discrete", "onehot", "counts_vector"):
            if (s.lower or 0) >= 1:  # a geometric's trials: y - 1 is then known to be a count too
                return {"integer": True, "positive": True}
            return {"integer": True, "nonnegative": True} if (s.lower or 0) >= 0 else {"integer": True}
        if s.kind == "simplex":
            return {"nonnegative": True}
        if s.lower is not None and not isinstance(s.lower, str) and s.lower >= 0:
            # y = 0 where the density is finite there (gamma with k = 1): nonnegative, so that
            # (k - 1) log y compiles to xlogy (0 log 0 = 0) instead of 0 * -inf
            return {"positive": True} if s.open_lower and not s.closed_if("lower") else {"nonnegative": True}
        return {"real": True}

    def _y_base(self):
        if self.is_event:
            return sp.IndexedBase("y", **self._y_assumptions())
        return sp.Symbol("y", **self._y_assumptions())

    @property
    def y(self) -> sp.Expr:
        return self.symbol("y")

    # ---- the model ---------------------------------------------------------
    def density(self, y, **params) -> sp.Expr:  # pragma: no cover - abstract
        """p(y | params) as a SymPy expression. Event distributions return a
        ``Product`` over the event index (or a product times a normaliser)."""
        raise NotImplementedError

    def log_density(self, y, **params) -> sp.Expr | None:
        """Optional: log p directly, when it is clearer than log(density)."""
        return None

    def support_bounds(self, params: dict):
        """(lower, upper) of y at numeric ``params`` (arrays, -inf/inf where unbounded) when the support
        moves with the parameters in a way ``support`` cannot name (the GEV's y > mu - sigma/xi); None
        when ``support`` says it all. The accuracy grid puts its extreme targets at these bounds."""
        return None

    def target_at(self, params: dict, score):
        """Observations at moderate standard scores ``score`` (reals, about -2 to 3) for a support that
        moves with the parameters, or None. Random test draws use it where a uniform draw inside
        ``support_bounds`` would reach targets whose true NLL leaves the float range (a GEV target
        just above mu - sigma/xi when xi is small: t^(-1/xi) = e^1400)."""
        return None

    def density_steps(self) -> tuple:
        """Optional derivation steps shown after the density is substituted (e.g. a
        normaliser worked out by integration): ``Step``s (symlik.core.step), data like every step."""
        return ()

    def density_expr(self) -> sp.Expr:
        return self.density(self.y, **{p: self.symbol(p) for p in self.param_names})

    def link(self, link_name: str | None, param: str) -> Link:
        if link_name in (None, "identity"):
            return links.identity
        link = self._accepted_link(link_name)
        constraint = self.param(param).constraint
        if not link.fits(constraint):
            raise NotSupportedError(
                f"link {link_name!r} maps onto {link.domain} parameters; {self.name}.{param} is {constraint}"
            )
        return link

    def link_param(self, link_name: str) -> str:
        """The parameter a link applies to: the first predicted one it fits."""
        link = self._accepted_link(link_name)
        for name in self.predict + self.param_names:
            if link.fits(self.param(name).constraint):
                return name
        raise NotSupportedError(f"link {link_name!r} fits no parameter of {self.name}")

    def _accepted_link(self, link_name: str) -> Link:
        link = links.get(link_name)
        if link_name not in self.links and not link.per_parameter:
            accepted = ", ".join(dict.fromkeys((*self.links, *(n for n, l in links.LINKS.items() if l.per_parameter)))) or "none"
            raise NotSupportedError(f"link {link_name!r} is not accepted by {self.name} (accepted links: {accepted})")
        return link

    # ---- description -------------------------------------------------------
    @property
    def label(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.chosen.items() if v != self.options[k][0])
        return f"{self.name}[{opts}]" if opts else self.name

    @property
    def title_in_sentence(self) -> str:
        """The title as it reads mid-sentence: "the normal density", "the Cauchy density"."""
        if self.proper_noun:
            return self.title
        return self.title[:1].lower() + self.title[1:]

    def latex_name(self, name: str) -> str:
        """The LaTeX of parameter ``name`` (from the notation table, else SymPy's: mu -> \\mu)."""
        shown = symbol_display(name)
        return shown.latex if shown is not None else sp.latex(sp.Symbol(name))

    def summary(self) -> str:
        doc = (self.__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.title

    def __repr__(self) -> str:
        return f"<Distribution {self.label}: params={self.param_names}, support={self.support.describe()}>"

    # ---- scipy oracle (tests) ----------------------------------------------
    def known_expectations(self, y, **params) -> dict:
        """{g(y): E[g(y)]} from the literature, for expectations SymPy cannot integrate (von Mises'
        E[cos(y - mu)] = I1(kappa)/I0(kappa)); the analyses use them, and tests check them numerically."""
        return {}

    def scipy_logpdf(self, y, **params):  # pragma: no cover - overridden where an oracle exists
        """log p(y | params) computed by scipy.stats, an independent oracle."""
        raise NotImplementedError
