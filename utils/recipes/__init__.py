"""Recipes: how clips become model inputs, what the network trains on, and how it predicts.

One module per kind of recipe, each a subclass of ``base.Recipe``: ``seed.py``
(an offline training set of augmented copies), ``wave.py`` (waveforms augmented
on the fly) and ``mel_tcn.py`` (log-mel cached once, augmented in the mel
domain). Their features, augmentation and networks sit beside them. A new
recipe is an instance of one of these kinds, or a new kind, added to RECIPES.
"""
from utils.recipes.base import Recipe, waveform
from utils.recipes.wave import WAVE_RESNET, WAVE_RESNET_FRESH
from utils.recipes.mel_tcn import MEL_TCN
from utils.recipes.seed import SEED
from utils.registry import Registry

__all__ = ["DEFAULT_RECIPE", "RECIPES", "Recipe", "get_recipe", "waveform"]

DEFAULT_RECIPE = "mel_tcn"  # run_all.sh's and the notebooks' default
RECIPES: Registry[Recipe] = Registry("recipe", {r.name: r for r in (MEL_TCN, WAVE_RESNET, WAVE_RESNET_FRESH, SEED)},
                                   renamed={"kit": "wave_resnet", "kit_fresh": "wave_resnet_fresh"})
get_recipe = RECIPES.pick
