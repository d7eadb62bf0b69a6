"""Profiles size each recipe family's training: fixed epochs, or clips seen rounded up to whole epochs."""
from utils.profiles import PROFILES, get_profile


def test_clips_seen_round_up_to_whole_epochs():
    smoke = get_profile("smoke")
    assert smoke.epochs_for("mel", fold=False, clips=7000) == 4  # 24,000 clips seen
    assert smoke.epochs_for("mel", fold=True, clips=8000) == 2  # 16,000 per fold
    assert smoke.epochs_for("wave", fold=False, clips=123) == 2  # fixed epochs


def test_short_clip_sets_pass_several_times_per_epoch():
    smoke = get_profile("smoke")
    assert smoke.passes_per_epoch("mel", clips=800) == 10  # epochs of 8,000 clips
    assert smoke.passes_per_epoch("wave", clips=800) == 1


def test_every_profile_sizes_every_family_and_grows_with_its_data():
    sizes = [(p.n_train, p.n_test) for p in PROFILES.values()]
    assert sizes == sorted(sizes)
    assert all(set(p.training) == {"seed", "wave", "mel"} for p in PROFILES.values())
