"""Helpers for the overlap-words kit; the notebooks import these."""
from utils.environment import backend_defaults

backend_defaults()  # before Keras loads
