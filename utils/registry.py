"""Names to things of one kind (profiles, recipes, networks), and the command line that lists the names.

    python -m utils.registry profiles|recipes|networks    # the valid names, one line, space-separated
"""
from __future__ import annotations

import importlib
import sys
import warnings
from typing import Generic, TypeVar

T = TypeVar("T")

# Where each kind's registry lives; imported only when asked for (networks import Keras).
SOURCES = {"profiles": ("utils.profiles", "PROFILES"), "recipes": ("utils.recipes", "RECIPES"),
           "networks": ("utils.recipes.networks", "MODELS")}


class Registry(dict, Generic[T]):
    """A dict of names to things of one ``kind``, in the order they are shown to users."""

    def __init__(self, kind: str, items: dict[str, T], *, renamed: dict[str, str] | None = None):
        super().__init__(items)
        self.kind = kind
        self.renamed = renamed or {}  # old name: new name, still accepted with a warning

    def current(self, name: str) -> str:
        """``name``, or its new name (with a FutureWarning) where it was renamed."""
        if name in self.renamed:
            warnings.warn(f"{self.kind} {name!r} is now called {self.renamed[name]!r}", FutureWarning, stacklevel=3)
            return self.renamed[name]
        return name

    def pick(self, name: str) -> T:
        """The thing called ``name``; a ValueError naming the valid names otherwise."""
        name = self.current(name)
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of {', '.join(self)}")
        return self[name]


def names(kind: str) -> list[str]:
    """The valid names of ``kind``: profiles, recipes or networks."""
    if kind not in SOURCES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(SOURCES)}")
    module, attribute = SOURCES[kind]
    return list(getattr(importlib.import_module(module), attribute))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit(f"usage: python -m utils.registry {'|'.join(SOURCES)}")
    try:
        print(" ".join(names(args[0])))
    except ValueError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
