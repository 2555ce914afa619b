"""Numerical-stability rewrites: exact forms -> stable special functions."""
