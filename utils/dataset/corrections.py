"""Corrections made to the input data, kept in outputs/metrics.json ("data_warnings", a list of lines).

run_all.sh prints the new ones on stderr after each notebook, and the report lists them::

    python -m utils.dataset.corrections count METRICS_JSON
    python -m utils.dataset.corrections show METRICS_JSON --after N    # prints lines N.. on stderr, then the new count
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SECTION = "data_warnings"


def recorded(metrics_path: str | Path) -> list[str]:
    """The warnings kept so far (none when the file is absent)."""
    path = Path(metrics_path)
    if not path.is_file():
        return []
    return list(json.loads(path.read_text()).get(SECTION, []))


def record(metrics_path: str | Path, messages: list[str]) -> list[str]:
    """Add the messages not kept yet; returns the whole list."""
    from utils.store import update_json  # numpy is imported only when writing

    kept = recorded(metrics_path)
    new = [m for m in messages if m not in kept]
    if new:
        update_json(metrics_path, SECTION, kept + new)
    return kept + new


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m utils.dataset.corrections", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["count", "show"])
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--after", type=int, default=0, help="show the warnings after the first N")
    args = parser.parse_args(argv)
    kept = recorded(args.metrics)
    if args.action == "show":
        for message in kept[args.after:]:
            print(f"  data warning: {message}", file=sys.stderr)
    print(len(kept))


if __name__ == "__main__":
    main()
