"""Derivation -> LaTeX / Markdown / text. Rendering never derives."""
