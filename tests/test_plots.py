import matplotlib

matplotlib.use("Agg")

import numpy as np

from utils.results import plots


def test_cooccurrence_counts_pairs():
    answers = np.zeros((2, 30))
    answers[0, [0, 1, 2, 3]] = 0.25
    answers[1, [0, 1, 4, 5]] = 0.25
    table = plots.cooccurrence(answers)
    assert table.loc["bed", "bird"] == 2 and table.loc["bed", "cat"] == 1 and table.loc["bed", "bed"] == 2
    assert plots.word_counts(answers)["bed"] == 2


def test_loudness_of_a_half_scale_tone_and_silence():
    t = np.arange(16000) / 16000
    tone = (0.5 * 32768 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    silence = np.zeros(16000, dtype=np.int16)
    table = plots.loudness_table(np.stack([tone, silence]))
    assert abs(table["peak"][0] - 0.5) < 1e-3
    assert abs(table["rms_db"][0] - 20 * np.log10(0.5 / np.sqrt(2))) < 0.05
    assert table["silent_share"].tolist() == [0.0, 1.0]


def test_figures_are_drawn():
    answers = np.zeros((3, 30))
    answers[:, :4] = 0.25
    clips = np.zeros((2, 16000), dtype=np.int16)
    for fig in (plots.plot_word_counts(answers), plots.plot_cooccurrence(answers),
                plots.plot_waveforms(clips, ["a", "b"]), plots.plot_features(np.zeros((2, 98, 221)), ["a", "b"])):
        assert fig.axes
    assert plots.describe_words(answers[0]) == "bed + bird + cat + dog"


def truth_and_predictions():
    truth = np.zeros((2, 30))
    truth[0, [0, 1, 2, 3]] = 0.25  # bed bird cat dog
    truth[1, [0, 1, 4, 5]] = 0.25  # bed bird down eight
    predictions = np.full((2, 30), 0.01)
    predictions[0, [0, 1, 2, 6]] = 0.2  # dog missed, five instead
    predictions[1, [0, 1, 4, 6]] = 0.2  # eight missed, five instead
    return truth, predictions / predictions.sum(axis=1, keepdims=True)


def test_recall_per_word():
    recall = plots.recall_per_word(*truth_and_predictions())
    assert recall["bed"] == 1.0 and recall["dog"] == 0.0 and recall["cat"] == 1.0 and np.isnan(recall["zero"])


def test_confused_pairs_count_missed_words_against_those_predicted_instead():
    table = plots.confused_pairs(*truth_and_predictions())
    assert table.values.tolist() == [["dog", "five", 1], ["eight", "five", 1]]


def test_kld_by_loudness_bins_the_clips():
    truth, predictions = truth_and_predictions()
    t = np.arange(16000) / 16000
    clips = np.stack([(0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16),
                      (0.01 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)])
    table = plots.kld_by_loudness(truth, predictions, clips, bins=2)
    assert table["clips"].tolist() == [1, 1] and (table["mean_kld"] > 0).all()
    assert plots.plot_kld_by_loudness(table).axes and plots.plot_recall_per_word(truth, predictions).axes
