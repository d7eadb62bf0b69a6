"""Run notebooks 01..06 in order with papermill, each in its own process; ``run_all.sh`` calls this.

    python -m utils.runner [--profile NAME] [--recipe NAME] [--data DIR] [--from NN] [--parallel-folds]

Executed notebooks and their logs go to outputs/notebooks/. A notebook whose
code, parameters, data and earlier steps are unchanged since its last
successful run is skipped, so a stopped run picks up where it stopped.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from utils import runlock
from utils.keys import code_fingerprint, key
from utils.paths import (
    EXECUTED_NOTEBOOKS_DIR, METRICS_PATH, MODELS_DIR, NOTEBOOKS_DIR, OUTPUTS_DIR, PROJECT_ROOT, WORK_ROOT,
)
from utils.profiles import get_profile
from utils.progress import printed_text, training_progress
from utils.store import drop_json_section, write_bytes_atomic

NAME = "run_all.sh"  # how users call this, in its messages
USAGE = """Usage: ./run_all.sh [--profile {profiles}] [--recipe {recipes}] [--data DIR] [--from NN] [--parallel-folds]

  --profile  run size (default: full when a GPU is visible, else standard)
  --recipe   mel_tcn (default): cached log-mel, fresh mixtures and voice changes in the mel
             domain, a temporal ResNet, calibration;
             wave_resnet: in-model log-mel, on-the-fly waveform augmentation, 2-D ResNet, calibration;
             wave_resnet_fresh: wave_resnet with fresh waveform mixtures of the dataset's saved words;
             seed: the 26th-place solution's recipe
  --data     a DACON-layout folder (default: the profile's embedded dataset, made under data/)
  --from     run notebook NN (01..06) and the ones after it even if unchanged, reusing what
             earlier steps wrote to outputs/
  --parallel-folds  train the k-fold models of 05 as separate jobs, as many at once as there
                    are GPUs (CUDA_VISIBLE_DEVICES), then gather them into the ensemble

A notebook whose code, parameters, data and earlier steps are unchanged since its last
successful run is skipped, so a run stopped halfway (even by kill -9) picks up where it stopped."""
# Seconds papermill waits for a new kernel to answer (its default, 60, is short for a loaded machine).
KERNEL_START_TIMEOUT = 300
PROGRESS_EVERY = 60  # seconds between training progress lines of a running notebook
ERROR_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b")


class Refused(Exception):
    """Bad arguments: the message says which and what was expected."""


@dataclass
class Options:
    profile: str
    recipe: str
    data: str  # absolute folder, or "" for the embedded dataset
    start: str  # --from: "" or "01".."06"
    parallel_folds: bool


RUNNING: list[subprocess.Popen] = []  # this run's papermill jobs while they run


def listed_gpus() -> list[str] | None:
    """The lines of ``nvidia-smi -L`` (None where it is missing or fails)."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return listed.stdout.splitlines() if listed.returncode == 0 else None


def gpu_count() -> int:
    """GPUs that nvidia-smi lists (0 without it)."""
    return sum(line.startswith("GPU") for line in listed_gpus() or [])


def parse(argv: list[str]) -> Options:
    """The options, checked; Refused names what is wrong."""
    from utils.recipes import DEFAULT_RECIPE, RECIPES
    from utils.registry import names

    profiles, recipes = names("profiles"), names("recipes")
    parser = argparse.ArgumentParser(prog=NAME, add_help=False, allow_abbrev=False)
    for option in ("--profile", "--recipe", "--data", "--from"):
        parser.add_argument(option, default="", dest=option[2:].replace("from", "start"))
    parser.add_argument("--parallel-folds", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    args, unknown = parser.parse_known_args(argv)
    if args.help:
        print(USAGE.format(profiles="|".join(profiles), recipes="|".join(recipes)))
        sys.exit(0)
    if unknown:
        raise Refused(f"unknown argument '{unknown[0]}'\n" + USAGE.format(profiles="|".join(profiles),
                                                                           recipes="|".join(recipes)))
    profile = args.profile or ("full" if listed_gpus() is not None else "standard")
    if profile not in profiles:
        raise Refused(f"unknown profile '{profile}' (expected one of: {' '.join(profiles)})")
    recipe = args.recipe or DEFAULT_RECIPE
    if recipe in RECIPES.renamed:
        print(f"note: recipe '{recipe}' is now called '{RECIPES.renamed[recipe]}'", file=sys.stderr)
        recipe = RECIPES.renamed[recipe]
    if recipe not in recipes:
        raise Refused(f"unknown recipe '{recipe}' (expected one of: {' '.join(recipes)})")
    if args.start and not re.fullmatch(r"0[1-6]", args.start):
        raise Refused(f"--from expects a notebook number 01..06, got '{args.start}'")
    if args.parallel_folds and not get_profile(profile).ensemble:
        print(f"note: the {profile} profile trains no k-fold ensemble; --parallel-folds does nothing", file=sys.stderr)
    data = str(data_folder(args.data)) if args.data else ""
    return Options(profile, recipe, data, args.start, args.parallel_folds)


def writable_outputs(folder: Path) -> None:
    """Make the outputs folder, or raise Refused naming it and KIT_WORK_DIR where it cannot be made or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError as error:
        writable, reason = False, error.strerror
    else:
        reason = "not writable"
    if not writable:
        raise Refused(f"the kit's outputs cannot be written at {folder} ({reason}): expected a writable folder; "
                      "set KIT_WORK_DIR to one")


def data_folder(given: str) -> Path:
    """--data as an absolute folder: ``~`` expanded, relative to where run_all.sh was called from; Refused if it
    is not a folder or holds the kit's outputs (the kit never writes into the data)."""
    folder = (Path(os.environ.get("KIT_CALLER_DIR") or os.getcwd()) / Path(given).expanduser()).resolve()
    if not folder.is_dir():
        raise Refused(f"--data {given} is not a folder (looked for {folder})")
    if folder == OUTPUTS_DIR or folder in OUTPUTS_DIR.parents:
        raise Refused(f"--data {folder} holds the kit's outputs ({OUTPUTS_DIR}), and the kit never writes into the "
                      f"data: move the kit out of the data folder, or set KIT_WORK_DIR to a folder outside it")
    return folder


def papermill_args(options: Options, notebook: Path) -> list[str]:
    """The notebook's parameters as papermill takes them (06 takes the recipe the models were trained with)."""
    args = ["-k", "python3", "--cwd", str(PROJECT_ROOT), "--no-progress-bar", "--start-timeout", str(KERNEL_START_TIMEOUT),
            "-p", "profile", options.profile]
    if options.data:
        args += ["-p", "data_dir", options.data]
    if not notebook.name.startswith("06"):
        args += ["-p", "recipe", options.recipe]
    elif not trains_ensemble(options):
        args += ["-p", "models", "holdout"]
    return args


def trains_ensemble(options: Options) -> bool:
    """Whether this run trains the k-fold ensemble of 05 (the profile says) and so submits it."""
    return get_profile(options.profile).ensemble


def papermill(notebook: Path, out: Path, args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start papermill on ``notebook`` in a process of its own, its output to ``log``."""
    with open(log, "w") as handle:
        job = subprocess.Popen([sys.executable, "-m", "papermill", str(notebook), str(out), *args],
                               stdout=handle, stderr=subprocess.STDOUT, env=env)
    RUNNING.append(job)
    return job


def finished(job: subprocess.Popen, *, progress_from: Path | None = None, label: str = "") -> int:
    """Wait for a papermill job; its exit status.

    With ``progress_from`` (the notebook papermill saves as it runs), every
    PROGRESS_EVERY seconds a new training progress line is printed below the
    step's ``label``, which is printed again at the end for the outcome.
    """
    shown = None
    while True:
        try:
            status = job.wait(timeout=PROGRESS_EVERY if progress_from else None)
            break
        except subprocess.TimeoutExpired:
            line = training_progress(printed_text(progress_from))
            if line and line != shown:
                print(("" if shown else "\n") + f"    {line}", flush=True)
                shown = line
    if shown:
        print(label, end="", flush=True)
    RUNNING.remove(job)
    return status


def stop_running(sig: int) -> None:
    """Pass ``sig`` on to the notebooks still running and wait until they have shut their kernels down."""
    for job in RUNNING:
        if job.poll() is None:
            job.send_signal(sig)
    for job in RUNNING:
        try:
            job.wait(timeout=60)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()
    RUNNING.clear()


def run_folds_in_parallel(options: Options, notebook: Path, args: list[str]) -> bool:
    """Each fold of 05 as its own papermill job, one per GPU at a time (one at a time without a GPU)."""
    folds, gpus = get_profile(options.profile).folds, gpu_count()
    slots = max(gpus, 1)
    for first in range(0, folds, slots):
        jobs = {}
        for k in range(first, min(folds, first + slots)):
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": str(k % gpus)} if gpus else {})}
            jobs[k] = papermill(notebook, EXECUTED_NOTEBOOKS_DIR / f".fold-{k}.ipynb", [*args, "-p", "fold", str(k)],
                                EXECUTED_NOTEBOOKS_DIR / f"05_fold_{k}.log", env)
        for k, job in jobs.items():
            if finished(job) != 0:
                stop_running(signal.SIGTERM)
                print("FAILED", flush=True)
                print(f"{NAME}: fold {k} of notebooks/{notebook.name} failed; "
                      f"log: {EXECUTED_NOTEBOOKS_DIR / f'05_fold_{k}.log'}", file=sys.stderr)
                return False
    for partial in EXECUTED_NOTEBOOKS_DIR.glob(".fold-*.ipynb"):
        partial.unlink()
    return True


def corrections() -> list[str] | None:
    """The data corrections kept in outputs/metrics.json (None when it cannot be read)."""
    from utils.dataset.corrections import recorded

    try:
        return recorded(METRICS_PATH)
    except (OSError, ValueError, AttributeError):
        return None


def show_new_warnings(shown: int) -> int:
    """Print the data corrections recorded since the first ``shown``; returns how many there are now."""
    kept = corrections()
    if kept is None:
        return shown
    for message in kept[shown:]:
        print(f"  data warning: {message}", file=sys.stderr)
    return len(kept)


def run_notebook(options: Options, notebook: Path, args: list[str], step_key: str, shown: int) -> int:
    """Run one notebook into outputs/notebooks/, recording ``step_key`` when it succeeds; exits on failure."""
    name = notebook.stem
    partial, log = EXECUTED_NOTEBOOKS_DIR / f".partial-{name}.ipynb", EXECUTED_NOTEBOOKS_DIR / f"{name}.log"
    start = time.monotonic()
    if name.startswith("05") and options.parallel_folds and not run_folds_in_parallel(options, notebook, args):
        sys.exit(1)
    failed = finished(papermill(notebook, partial, args, log), progress_from=partial, label=step_label(name)) != 0
    if partial.is_file():
        partial.replace(EXECUTED_NOTEBOOKS_DIR / f"{name}.ipynb")
    if failed:
        print(f"FAILED after {time.monotonic() - start:.0f} s", flush=True)
        show_new_warnings(shown)
        errors = [line for line in log.read_text(errors="replace").splitlines() if ERROR_LINE.match(line)]
        print(f"{NAME}: notebooks/{notebook.name} failed: {errors[-1] if errors else 'see the log'}\n"
              f"  log: {log}; executed notebook: {EXECUTED_NOTEBOOKS_DIR / notebook.name}", file=sys.stderr)
        sys.exit(1)
    done = EXECUTED_NOTEBOOKS_DIR / f".done-{name}"
    write_bytes_atomic(done, (step_key + "\n").encode())
    print(f"done in {time.monotonic() - start:.0f} s", flush=True)
    return show_new_warnings(shown)


def step_label(name: str) -> str:
    """How a notebook's step starts its line: ``[04] train_cnn`` and room for the outcome."""
    return f"[{name[:2]}] {name[3:]:<20} "


def data_key(options: Options) -> str:
    """What the data is: the folder's fingerprint, or the profile's embedded dataset."""
    if options.data:
        from utils.dataset.clips import folder_fingerprint

        return folder_fingerprint(options.data)
    return f"embedded-{options.profile}"


def run(options: Options) -> None:
    """Every notebook in order, skipping those unchanged since their last successful run."""
    from utils.environment import hosted_data_dir

    EXECUTED_NOTEBOOKS_DIR.mkdir(parents=True, exist_ok=True)
    options.data = options.data or str(hosted_data_dir() or "")  # Kaggle's or Colab's competition data
    backend = os.environ["KERAS_BACKEND"]  # set by utils.environment.backend_defaults
    common = (code_fingerprint(), data_key(options), backend, os.environ.get("KIT_PRECISION", "auto"))
    shown = len(corrections() or [])  # corrections of earlier runs are not shown again
    print(f"Profile {options.profile}, recipe {options.recipe}, "
          f"data {options.data or f'embedded (data/embedded-{options.profile})'}, backend {backend}", flush=True)
    total_start, previous = time.monotonic(), ""
    for notebook in sorted(NOTEBOOKS_DIR.glob("0[1-6]_*.ipynb")):
        name, done = notebook.stem, EXECUTED_NOTEBOOKS_DIR / f".done-{notebook.stem}"
        last_key = done.read_text().strip() if done.is_file() else ""
        if options.start and name[:2] < options.start:
            previous = last_key
            continue
        if name.startswith("05") and not trains_ensemble(options):
            print(f"{step_label(name)}skipped (the {options.profile} profile submits the holdout model of 04)", flush=True)
            for stale in (EXECUTED_NOTEBOOKS_DIR / notebook.name, done, MODELS_DIR / "ensemble.json"):
                stale.unlink(missing_ok=True)  # an earlier run's ensemble is not this run's
            drop_json_section(METRICS_PATH, "kfold")
            continue
        args = papermill_args(options, notebook)
        previous = step_key = key(previous, *common, *args, notebook.read_bytes())
        print(step_label(name), end="", flush=True)
        if not options.start and (EXECUTED_NOTEBOOKS_DIR / notebook.name).is_file() and last_key == step_key:
            print("skipped (unchanged since its last run)", flush=True)
            continue
        done.unlink(missing_ok=True)
        shown = run_notebook(options, notebook, args, step_key, shown)
    print(f"All notebooks ran in {time.monotonic() - total_start:.0f} s", flush=True)
    finish()


def finish() -> None:
    """The HTML report of the executed notebooks (a failure only warned about), then the summary line."""
    from utils.results.report import build_report
    from utils.results.submission import summary_line

    try:
        print(f"Report: {build_report(EXECUTED_NOTEBOOKS_DIR, OUTPUTS_DIR / 'report.html')}")
    except Exception as error:  # the submission is already written
        print(f"{NAME}: the report could not be built ({type(error).__name__}: {error})", file=sys.stderr)
    print(summary_line(METRICS_PATH), flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse(sys.argv[1:] if argv is None else argv)
        writable_outputs(OUTPUTS_DIR)
    except Refused as error:
        print(f"{NAME}: {error}", file=sys.stderr)
        return 2
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("TF_CPP_MIN_LOG_LEVEL") or "3"
    os.environ["KIT_WORK_DIR"] = str(WORK_ROOT)  # the notebooks write where this run does
    try:
        token = runlock.acquire(OUTPUTS_DIR)
    except runlock.RunLocked as error:
        print(error, file=sys.stderr)
        return runlock.LOCKED_EXIT
    os.environ[runlock.TOKEN_VARIABLE] = token  # this run's notebooks pass the lock
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stop = signal.SIGTERM
    try:
        run(options)
    except KeyboardInterrupt:
        stop = signal.SIGINT
        return 130
    finally:
        stop_running(stop)  # nothing writes once the lock is released
        runlock.release(token, OUTPUTS_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
