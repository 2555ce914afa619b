"""Canonical losses and the matcher that proves nll == scale * loss + offset."""
