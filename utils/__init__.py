"""Helpers for the overlap-words kit; the notebooks import these."""
from utils.environment import tensorflow_defaults

tensorflow_defaults()  # before TensorFlow loads
