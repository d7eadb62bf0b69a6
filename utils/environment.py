"""Where the kit runs (local Jupyter, Colab, Kaggle) and what that place needs.

Standard library only: this runs before the kit's dependencies are imported.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

# import name -> pip requirement; numpy and tensorflow are never installed here
# (hosted notebooks ship their own and a second copy breaks them).
REQUIRED = {
    "keras": "keras>=3.3",
    "librosa": "librosa>=0.10",
    "soundfile": "soundfile>=0.12",
    "espeakng_loader": "espeakng-loader>=0.2",
    "seaborn": "seaborn>=0.13",
    "papermill": "papermill>=2.5",
    "nbconvert": "nbconvert>=7",
}
# what ./run_all.sh needs before any notebook starts (import names), besides REQUIRED and a backend
RUNNER_MODULES = ("numpy", "scipy", "pandas", "matplotlib", "tqdm", "nbformat", "ipykernel")
BACKENDS = ("tensorflow", "jax")  # the Keras backends the kit picks from, in this order
X86_MACHINES = ("x86_64", "amd64")  # platform.machine(), lower-cased, where oneDNN is switched on
KAGGLE_INPUT = Path("/kaggle/input")
COLAB_ROOTS = (Path("/content/drive/MyDrive"),)  # not /content: the kit's own data/ sits there


def hosting() -> str:
    """``kaggle``, ``colab`` or ``local``."""
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or KAGGLE_INPUT.is_dir():
        return "kaggle"
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    return "local"


def wheel_folders(root: Path = KAGGLE_INPUT) -> list[Path]:
    """Folders of .whl files attached as Kaggle datasets (for installing with internet off)."""
    if not root.is_dir():
        return []
    return sorted({p.parent for p in root.glob("*/*.whl")} | {p.parent for p in root.glob("*/*/*.whl")})


def install_missing(required: dict[str, str] = REQUIRED) -> list[str]:
    """pip-install the requirements whose module is missing; returns what was installed.

    With ``KIT_WHEELS`` set, or wheel folders under /kaggle/input, it installs
    from those folders without the internet.
    """
    missing = [req for module, req in required.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return []
    command = [sys.executable, "-m", "pip", "install", "--quiet", *missing]
    folders = [Path(os.environ["KIT_WHEELS"])] if os.environ.get("KIT_WHEELS") else wheel_folders()
    if folders:
        command[4:4] = ["--no-index", *[f"--find-links={f}" for f in folders]]
    print("Installing", " ".join(missing), flush=True)
    if subprocess.run(command).returncode != 0:
        raise RuntimeError(
            f"could not install {', '.join(missing)}. With the internet off (Kaggle), attach a dataset of wheels "
            "made with `pip download -r requirements.txt -d wheels` and set KIT_WHEELS to its folder"
        )
    importlib.invalidate_caches()
    return missing


def find_dacon_folder(roots: list[Path], *, depth: int = 3) -> Path | None:
    """The first folder under ``roots`` (at most ``depth`` levels down) holding train_answer.csv and train/."""
    for root in roots:
        for level in range(depth + 1):
            for answer in sorted(root.glob("/".join(["*"] * level + ["train_answer.csv"]))):
                if (answer.parent / "train").is_dir():
                    return answer.parent
    return None


def hosted_data_dir() -> Path | None:
    """Competition data where a hosted notebook keeps it: /kaggle/input, or a Colab Drive folder."""
    place = hosting()
    if place == "kaggle":
        return find_dacon_folder([KAGGLE_INPUT])
    if place == "colab":
        return find_dacon_folder([r for r in COLAB_ROOTS if r.is_dir()])
    return None


def backend_defaults() -> None:
    """Keras's backend and TensorFlow's start-up settings; ``import utils`` sets them.

    Keras on TensorFlow (on JAX where only JAX is installed), TensorFlow's
    start-up logs quiet, its oneDNN kernels on x86 CPUs. They act only when
    set before Keras and TensorFlow load. TensorFlow turns oneDNN on by itself
    only on CPUs with AVX-512 VNNI or newer; on an AVX2 CPU it trains
    mel_tcn's network 1.4 to 1.6 times as fast. A variable the
    environment already sets stays as it is (``TF_ENABLE_ONEDNN_OPTS=0``: off).
    """
    os.environ.setdefault("KERAS_BACKEND", default_backend())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if platform.machine().lower() in X86_MACHINES:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def default_backend() -> str:
    """The first of BACKENDS installed here, so that an image with JAX alone runs as it is; else TensorFlow."""
    return next((name for name in BACKENDS if importlib.util.find_spec(name) is not None), BACKENDS[0])


def missing_modules() -> list[str]:
    """What ./run_all.sh needs and this Python cannot import: RUNNER_MODULES, REQUIRED, a Keras backend."""
    missing = [m for m in (*RUNNER_MODULES, *REQUIRED) if importlib.util.find_spec(m) is None]
    if not any(importlib.util.find_spec(name) for name in BACKENDS):
        missing.append(" or ".join(BACKENDS))
    return missing


def check_runner_modules() -> int:
    """0 where ./run_all.sh can start (on Colab or Kaggle after installing what is missing), else 2 with a message."""
    try:
        if hosting() != "local":
            install_missing()
    except RuntimeError as error:
        print(f"run_all.sh: {error}", file=sys.stderr)
        return 2
    missing = missing_modules()
    if missing:
        requirements = Path(__file__).resolve().parent.parent / "requirements.txt"
        print(f"run_all.sh: {', '.join(missing)} cannot be imported by {sys.executable}. Install the kit's "
              f"requirements into the Python that runs it, say: python3 -m venv .venv && . .venv/bin/activate && "
              f"pip install -r {requirements} (or activate the .venv you made before)", file=sys.stderr)
        return 2
    return 0


def prepare() -> str:
    """Refuse while another run writes the outputs folder, install what is missing; returns where the kit runs."""
    from utils import runlock

    runlock.check()
    install_missing()
    return hosting()
