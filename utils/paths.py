"""Every path the kit uses, anchored at the project root (not the working directory).

The kit writes only under a writable root: the project itself, or where it
cannot write there (a read-only /kaggle/input copy), /kaggle/working or
~/overlap-words-kit. KIT_WORK_DIR overrides it. Besides, what it learns
about the machine itself (which precision trains faster) goes to one small
file per machine in ~/.cache/overlap-words-kit, shared by every copy of the
kit; KIT_MACHINE_CACHE overrides that folder.
"""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def _work_root() -> Path:
    if os.environ.get("KIT_WORK_DIR"):
        return Path(os.environ["KIT_WORK_DIR"]).expanduser().resolve()
    if os.access(PROJECT_ROOT, os.W_OK):
        return PROJECT_ROOT
    kaggle = Path("/kaggle/working")
    return kaggle / "overlap-words-kit" if kaggle.is_dir() else Path.home() / "overlap-words-kit"


def _machine_cache() -> Path:
    if os.environ.get("KIT_MACHINE_CACHE"):
        return Path(os.environ["KIT_MACHINE_CACHE"]).expanduser().resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "overlap-words-kit"


WORK_ROOT = _work_root()
DATA_ROOT = WORK_ROOT / "data"
OUTPUTS_DIR = WORK_ROOT / "outputs"
CACHE_DIR = OUTPUTS_DIR / "cache"
MODELS_DIR = OUTPUTS_DIR / "models"
EXECUTED_NOTEBOOKS_DIR = OUTPUTS_DIR / "notebooks"
METRICS_PATH = OUTPUTS_DIR / "metrics.json"
SUBMISSION_PATH = OUTPUTS_DIR / "submission.csv"
MACHINE_CACHE_DIR = _machine_cache()


def embedded_data_dir(profile: str) -> Path:
    """Where the embedded dataset of a profile lives."""
    return DATA_ROOT / f"embedded-{profile}"
