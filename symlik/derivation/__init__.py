"""The derivation pipeline: spec + predict + link -> Derivation."""

from symlik.derivation.derivation import Derivation, Step
from symlik.derivation.pipeline import derive

__all__ = ["Derivation", "Step", "derive"]
