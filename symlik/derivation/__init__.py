"""The derivation pipeline: spec + predict + link -> Derivation."""

from .derivation import Derivation, Step
from .pipeline import derive

__all__ = ["Derivation", "Step", "derive"]
