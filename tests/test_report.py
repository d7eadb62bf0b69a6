"""The HTML report: executed notebooks joined into one page, code hidden."""
import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from utils.paths import PROJECT_ROOT
from utils.results.report import build_report, main


def png_base64() -> str:
    """A tiny PNG image, base64-encoded as notebooks store it."""
    buffer = io.BytesIO()
    plt.imsave(buffer, np.eye(4), format="png")
    return base64.b64encode(buffer.getvalue()).decode()


IMAGE = png_base64()


def write_executed_notebook(path: Path, title: str, code: str, printed: str) -> None:
    """A notebook as papermill leaves it: a heading, and a code cell with a printed line and a figure."""
    cell = nbformat.v4.new_code_cell(code, execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=printed),
        nbformat.v4.new_output("display_data", data={"image/png": IMAGE, "text/plain": "<Figure>"}),
    ])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this step shows."), cell])
    nbformat.write(nb, path)


@pytest.fixture
def executed(tmp_path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_executed_notebook(folder / "01_first.ipynb", "01 · First step", "secret_one = 1 + 1", "printed by one")
    write_executed_notebook(folder / "02_second.ipynb", "02 · Second step", "secret_two = 2 * 2", "printed by two")
    write_executed_notebook(folder / ".partial-03_third.ipynb", "03 · Unfinished", "secret_three = 3", "printed by three")
    return folder


def test_report_keeps_markdown_and_outputs_and_hides_code(executed, tmp_path):
    out = build_report(executed, tmp_path / "out" / "report.html")
    html = out.read_text()
    assert "What this step shows." in html
    assert "printed by one" in html and "printed by two" in html
    assert html.count(f"data:image/png;base64,{IMAGE}") == 2
    assert "secret_one" not in html and "secret_two" not in html


def test_report_has_a_title_and_contents_linking_each_notebook_in_order(executed, tmp_path):
    html = build_report(executed, tmp_path / "report.html").read_text()
    assert "<title>Overlap-words kit: run report</title>" in html
    first = html.index('<a href="#notebook-01_first">01 · First step</a>')
    second = html.index('<a href="#notebook-02_second">02 · Second step</a>')
    assert first < second < html.index('<a id="notebook-01_first">') < html.index('<a id="notebook-02_second">')


def test_report_skips_partial_notebooks_and_leaves_no_temporary_file(executed, tmp_path):
    out = build_report(executed, tmp_path / "out" / "report.html")
    assert "Unfinished" not in out.read_text() and "printed by three" not in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_report_without_notebooks_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executed notebooks"):
        build_report(tmp_path, tmp_path / "report.html")


def test_cli_writes_the_report_and_names_it(executed, tmp_path, capsys):
    out = tmp_path / "cli.html"
    main(["--notebooks", str(executed), "--out", str(out)])
    assert capsys.readouterr().out == f"Report: {out}\n"
    assert "printed by two" in out.read_text()


def test_report_does_not_import_keras_or_tensorflow():
    code = "import sys, utils.results.report; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


TF_STARTUP = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795653876.649619    2665 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
E0000 00:00:1795653876.650504    2665 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
2024-05-01 10:00:00.123456: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT
"""


def test_report_leaves_out_library_start_up_lines_and_keeps_other_stderr(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    setup = nbformat.v4.new_code_cell("prepare()", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=TF_STARTUP),
        nbformat.v4.new_output("stream", name="stdout", text="Running on: local\n"),
    ])
    load = nbformat.v4.new_code_cell("load()", execution_count=2, outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=TF_STARTUP + "dataset.py:170: DataWarning: 2 clips were cut\n"),
    ])
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Step"), setup, load]),
                   folder / "01_step.ipynb")
    html = build_report(folder, tmp_path / "report.html").read_text()
    for noise in ("absl", "oneDNN", "cuDNN", "rebuild TensorFlow", "TF-TRT", "port.cc"):
        assert noise not in html, noise
    assert "Running on: local" in html and "DataWarning: 2 clips were cut" in html
    assert html.count('class="output_subarea output_stream output_stderr') <= 1


def test_report_lists_the_data_warnings_of_the_run(executed, tmp_path):
    (executed.parent / "metrics.json").write_text(json.dumps({"data_warnings": ["3 clips were cut <first: a.wav>"]}))
    html = build_report(executed, tmp_path / "report.html").read_text()
    assert "Data warnings" in html and "3 clips were cut &lt;first: a.wav&gt;" in html
    assert "Data warnings" not in build_report(executed, tmp_path / "r.html", tmp_path / "none.json").read_text()


def test_templates_installed_beside_nbconvert_are_found(tmp_path, monkeypatch):
    from utils.results import report

    package = tmp_path / "site" / "nbconvert"  # as `pip install --target site` lays it out
    package.mkdir(parents=True)
    monkeypatch.setattr(report, "nbconvert", type("module", (), {"__file__": str(package / "__init__.py")}))
    monkeypatch.setenv("JUPYTER_PATH", "/elsewhere")
    report.find_templates_beside_nbconvert()
    assert os.environ["JUPYTER_PATH"] == "/elsewhere"  # no templates there: nothing added
    (tmp_path / "site" / "share" / "jupyter" / "nbconvert" / "templates").mkdir(parents=True)
    report.find_templates_beside_nbconvert()
    report.find_templates_beside_nbconvert()
    assert os.environ["JUPYTER_PATH"].split(os.pathsep) == ["/elsewhere", str(tmp_path / "site" / "share" / "jupyter")]
