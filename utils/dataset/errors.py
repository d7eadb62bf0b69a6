"""What the kit raises and warns about bad input."""
from __future__ import annotations


class DataError(ValueError):
    """Bad input: the message names the file or row and what was expected."""


class DataWarning(UserWarning):
    """Input that was corrected on the way in (resampled, downmixed, truncated, padded, cut)."""
