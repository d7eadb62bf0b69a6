"""Helpers for the overlap-words kit; the notebooks import these."""
