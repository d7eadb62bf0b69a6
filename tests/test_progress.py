"""Training progress, read from a running notebook and shown by the runner."""
import json
import subprocess

from utils.progress import printed_text, training_progress

EPOCHS = "".join(f"Epoch {n}/26\n311/311 - {s}s - 85ms/step - loss: 1.1 - val_loss: 0.9\n" for n, s in
                 [(1, 30), (2, 26), (3, 27)])


def notebook_printing(path, *texts):
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": t}]} for t in texts]
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_progress_gives_epochs_done_and_the_time_left_at_the_median_epoch():
    assert training_progress(EPOCHS) == "epoch 3 of 26 done, 27 s each: about 10 min left"
    assert training_progress(EPOCHS + "Epoch 4/26\n") == "epoch 3 of 26 done, 27 s each: about 10 min left"


def test_progress_follows_the_last_training_and_a_resumed_one():
    second = "Epoch 1/10\n100/100 - 5s - 50ms/step - loss: 1\n"
    assert training_progress(EPOCHS + second) == "epoch 1 of 10 done, 5 s each: about a minute or less left"
    resumed = "Epoch 24/26\n311/311 - 20s - 64ms/step - loss: 1\n"
    assert training_progress(resumed) == "epoch 24 of 26 done, 20 s each: about a minute or less left"


def test_no_progress_before_an_epoch_ends_or_from_an_unreadable_notebook(tmp_path):
    assert training_progress("Epoch 1/26\n") is None and training_progress("") is None
    (tmp_path / "half.ipynb").write_text('{"cells": [')
    assert printed_text(tmp_path / "half.ipynb") == "" and printed_text(tmp_path / "none.ipynb") == ""
    assert printed_text(notebook_printing(tmp_path / "nb.ipynb", "a\n", "b\n")) == "a\nb\n"


class SlowJob:
    """A papermill job that finishes on its third wait."""

    def __init__(self):
        self.waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        if self.waits < 3:
            raise subprocess.TimeoutExpired("papermill", timeout)
        return 0


def test_a_long_notebook_shows_its_progress_below_its_label_then_the_label_again(tmp_path, monkeypatch, capsys):
    from utils import runner

    job, copy = SlowJob(), notebook_printing(tmp_path / "04.ipynb", EPOCHS)
    runner.RUNNING.append(job)
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 0.01)
    print(runner.step_label("04_train_cnn"), end="")
    assert runner.finished(job, progress_from=copy, label=runner.step_label("04_train_cnn")) == 0
    print("done in 9 s")
    assert capsys.readouterr().out.splitlines() == [
        "[04] train_cnn            ", "    epoch 3 of 26 done, 27 s each: about 10 min left",
        "[04] train_cnn            done in 9 s"]
    assert job not in runner.RUNNING
