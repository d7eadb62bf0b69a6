"""Every path the kit uses, anchored at the project root (not the working directory)."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DATA_ROOT = PROJECT_ROOT / "data"
OUTPUTS_DIR = PROJECT_ROOT / "outputs"
CACHE_DIR = OUTPUTS_DIR / "cache"
MODELS_DIR = OUTPUTS_DIR / "models"
EXECUTED_NOTEBOOKS_DIR = OUTPUTS_DIR / "notebooks"
METRICS_PATH = OUTPUTS_DIR / "metrics.json"
SUBMISSION_PATH = OUTPUTS_DIR / "submission.csv"


def embedded_data_dir(profile: str) -> Path:
    """Where the embedded dataset of a profile lives."""
    return DATA_ROOT / f"embedded-{profile}"
