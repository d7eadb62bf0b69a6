"""One HTML report from the executed notebooks: markdown and outputs, code hidden.

The libraries' start-up lines are left out of stderr outputs, and the data
warnings kept in metrics.json are listed at the top.

Usage::

    python -m utils.results.report [--notebooks DIR] [--out FILE]
"""
from __future__ import annotations

import argparse
import copy
import html
import os
import re
from pathlib import Path

import nbconvert
import nbformat
from nbconvert import HTMLExporter

from utils.dataset.corrections import recorded
from utils.paths import EXECUTED_NOTEBOOKS_DIR, OUTPUTS_DIR
from utils.store import write_bytes_atomic

REPORT_TITLE = "Overlap-words kit: run report"
# Start-up lines of TensorFlow, absl and CUDA that reach a notebook's stderr; they say nothing about the run.
NOISE = re.compile("|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]",  # absl's log prefix
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\]",  # older TensorFlow's
    r"^To enable the following instructions: .*rebuild TensorFlow",
    r"Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|Could not find cuda drivers",
    r"oneDNN custom operations are on|TF_ENABLE_ONEDNN_OPTS|TF_CPP_MIN_LOG_LEVEL",
]))


def without_noise(outputs: list) -> list:
    """A cell's outputs with the library start-up lines taken out of its stderr streams (emptied ones dropped)."""
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines = [line for line in output.text.splitlines(keepends=True) if not NOISE.search(line)]
            if not "".join(lines).strip():
                continue
            output = copy.deepcopy(output)
            output.text = "".join(lines)
        kept.append(output)
    return kept


def executed_notebooks(notebooks_dir: str | Path) -> list[Path]:
    """The executed notebooks ``0*.ipynb`` of a folder, in order.

    The pattern skips run_all.sh's hidden ``.partial-*`` files.

    Raises
    ------
    FileNotFoundError
        If the folder holds no executed notebook.
    """
    paths = sorted(Path(notebooks_dir).glob("0*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no executed notebooks (0*.ipynb) in {notebooks_dir}")
    return paths


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first level-1 markdown heading of a notebook, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def join_notebooks(paths: list[Path], *, data_warnings: list[str] = ()) -> nbformat.NotebookNode:
    """One notebook: a title, a table of contents, the data warnings, then each notebook's cells after an anchor.

    Parameters
    ----------
    paths : list of Path
        Executed notebooks, in the order they should appear.
    data_warnings : list of str
        Corrections made to the input data (metrics.json's "data_warnings").

    Returns
    -------
    nbformat.NotebookNode
        Its cells are numbered afresh, as ids could clash across notebooks.
    """
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [notebook_title(nb, path.stem) for nb, path in zip(notebooks, paths)]
    anchors = [f"notebook-{path.stem}" for path in paths]
    contents = "\n".join(f"{i}. [{html.escape(title)}](#{anchor})"
                         for i, (title, anchor) in enumerate(zip(titles, anchors), start=1))
    header = f"# {REPORT_TITLE}\n\nCode cells are hidden; their outputs are shown.\n\n## Contents\n\n{contents}"
    if data_warnings:
        header += "\n\n## Data warnings\n\n" + "\n".join(f"- {html.escape(w)}" for w in data_warnings)
    cells = [nbformat.v4.new_markdown_cell(header)]
    for nb, title, anchor in zip(notebooks, titles, anchors):
        cells.append(nbformat.v4.new_markdown_cell(f'<hr>\n<a id="{anchor}"></a>'))
        for cell in nb.cells:
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                cell.outputs = without_noise(cell.outputs)
            # Alt text for figures (nbconvert warns about images without it).
            if cell.cell_type == "code" and any("image/png" in out.get("data", {}) for out in cell.outputs):
                cell.metadata.setdefault("alt", f"A figure from {title}")
            cells.append(cell)
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    joined = nbformat.v4.new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in notebooks[0].metadata:
            joined.metadata[key] = notebooks[0].metadata[key]
    joined.metadata["title"] = REPORT_TITLE
    return joined


def find_templates_beside_nbconvert() -> None:
    """Add the share/jupyter beside nbconvert to JUPYTER_PATH where it holds nbconvert's templates.

    pip puts them there when it installs into a folder on PYTHONPATH (``pip
    install --target``), where Jupyter does not look; elsewhere there is none.
    """
    shared = Path(nbconvert.__file__).resolve().parents[1] / "share" / "jupyter"
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if (shared / "nbconvert" / "templates").is_dir() and str(shared) not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([*paths, str(shared)])


def build_report(notebooks_dir: str | Path = EXECUTED_NOTEBOOKS_DIR, out_path: str | Path = OUTPUTS_DIR / "report.html",
                 metrics_path: str | Path | None = None) -> Path:
    """Join the executed notebooks of a folder into one HTML file with code cells hidden.

    Parameters
    ----------
    notebooks_dir : str or Path
        Folder of executed notebooks ``01_*.ipynb`` .. ``06_*.ipynb``.
    out_path : str or Path
        The HTML file; written under a temporary name and renamed when complete.
    metrics_path : str or Path, optional
        The run's metrics.json, whose data warnings the report lists; by default
        the one beside ``notebooks_dir`` (outputs/metrics.json).

    Returns
    -------
    Path
        ``out_path``.
    """
    find_templates_beside_nbconvert()
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    data_warnings = recorded(metrics_path or Path(notebooks_dir).parent / "metrics.json")
    body, _ = exporter.from_notebook_node(join_notebooks(executed_notebooks(notebooks_dir), data_warnings=data_warnings))
    out_path = Path(out_path)
    write_bytes_atomic(out_path, body.encode("utf-8"))
    return out_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m utils.results.report", description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=EXECUTED_NOTEBOOKS_DIR, help="folder of executed notebooks")
    parser.add_argument("--out", type=Path, default=OUTPUTS_DIR / "report.html", help="the HTML file to write")
    args = parser.parse_args(argv)
    print(f"Report: {build_report(args.notebooks, args.out)}")


if __name__ == "__main__":
    main()
