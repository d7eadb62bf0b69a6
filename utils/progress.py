"""A running notebook's training progress, read from the copy of it that papermill saves as it runs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

EPOCH = re.compile(r"^Epoch (\d+)/(\d+)$", re.MULTILINE)  # Keras, as each epoch starts
EPOCH_DONE = re.compile(r"^\s*\d+/\d+ - (\d+)s - ", re.MULTILINE)  # Keras (verbose=2), as each epoch ends


def printed_text(notebook: Path) -> str:
    """What the notebook's cells have printed so far; empty where it cannot be read (papermill may be writing it)."""
    try:
        cells = json.loads(Path(notebook).read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return "".join("".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream")


def training_progress(text: str) -> str | None:
    """'epoch 5 of 26 done, 27 s each: about 10 min left' for the last training the text shows, or None.

    A training starts where the epoch count starts again (or its total
    changes); one resumed after an interruption starts at its first epoch
    printed. The time left assumes every epoch runs, as early stopping may not.
    """
    epochs = [(m.start(), int(m.group(1)), int(m.group(2))) for m in EPOCH.finditer(text)]
    if not epochs:
        return None
    start, first, total = epochs[0]
    for (_, previous, previous_total), (position, number, of) in zip(epochs, epochs[1:]):
        if number <= previous or of != previous_total:
            start, first, total = position, number, of
    seconds = [int(s) for s in EPOCH_DONE.findall(text, start)]
    if not seconds:
        return None
    done = first - 1 + len(seconds)
    each = float(np.median(seconds))
    left = (total - done) * each
    return f"epoch {done} of {total} done, {each:.0f} s each: about {_duration(left)} left"


def _duration(seconds: float) -> str:
    return "a minute or less" if seconds <= 60 else f"{seconds / 60:.0f} min"
