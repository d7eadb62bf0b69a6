"""Profiles, recipes and networks are named in one place each; run_all.sh takes the names from there."""
import subprocess
import sys

import pytest

from utils.paths import PROJECT_ROOT
from utils.profiles import get_profile
from utils.recipes import get_recipe
from utils.recipes.networks import build_model
from utils.registry import names


@pytest.mark.parametrize("pick, kind, valid", [
    (get_profile, "profile", "tiny, smoke, standard, full"),
    (get_recipe, "recipe", "mel_tcn, wave_resnet, wave_resnet_fresh, seed"),
    (build_model, "network", "seed_cnn, logmel_resnet"),
])
def test_an_unknown_name_is_refused_with_the_valid_ones(pick, kind, valid):
    with pytest.raises(ValueError, match=f"unknown {kind} 'nope'; expected one of {valid}"):
        pick("nope")


def test_the_command_line_lists_the_names_run_all_offers():
    listed = subprocess.run([sys.executable, "-m", "utils.registry", "recipes"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed == names("recipes") == ["mel_tcn", "wave_resnet", "wave_resnet_fresh", "seed"]
    usage = subprocess.run(["bash", "run_all.sh", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout
    assert "[--recipe mel_tcn|wave_resnet|wave_resnet_fresh|seed]" in usage and "[--profile tiny|smoke|standard|full]" in usage


def test_an_unknown_kind_is_refused():
    result = subprocess.run([sys.executable, "-m", "utils.registry", "colours"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "unknown kind 'colours'" in result.stderr


def test_the_map_of_utils_names_every_folder_and_module():
    utils = PROJECT_ROOT / "utils"
    text = (utils / "README.md").read_text()
    rooms = [p.name for p in utils.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    modules = [p.name for p in utils.glob("*.py") if p.name != "__init__.py"]
    assert [name for name in rooms if f"`{name}/`" not in text] == []
    assert [name for name in modules if f"`{name}`" not in text] == []
    for room in rooms:  # each module of a room named in its row
        assert [p.name for p in (utils / room).glob("*.py") if not p.name.startswith("__")
                and p.name not in text] == [], room


def test_an_old_name_still_works_and_names_the_new_one(capsys):
    from utils.recipes.networks import MODELS
    from utils.runner import parse

    with pytest.warns(FutureWarning, match="recipe 'kit' is now called 'wave_resnet'"):
        assert get_recipe("kit") is get_recipe("wave_resnet")
    with pytest.warns(FutureWarning, match="network 'kit_resnet' is now called 'logmel_resnet'"):
        assert MODELS.pick("kit_resnet") is MODELS.pick("logmel_resnet")
    assert parse(["--profile", "smoke", "--recipe", "kit_fresh"]).recipe == "wave_resnet_fresh"
    assert "recipe 'kit_fresh' is now called 'wave_resnet_fresh'" in capsys.readouterr().err
