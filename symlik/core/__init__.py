"""The symbolic core: stable special functions, algebra helpers, notation, Step and Reason, errors.

The bottom layer: it imports nothing else of symlik.
"""
