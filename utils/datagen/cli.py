"""The dataset writer's command line: ``python -m utils.datagen --out DIR --train N --test N [--random-state S] [--words-from CORPUS_DIR]``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from utils.datagen.corpus import TEST_SPEAKER_FRACTION, load_word_folder, speaker_groups, split_bank_by_speaker
from utils.datagen.writer import VOICE_GROUPS, check_free, make_embedded_dataset, write_dataset


def main(argv: list[str] | None = None) -> None:
    """The command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.datagen", description="Write a DACON-layout dataset of overlapped spoken words."
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to create (must not exist or be empty)")
    parser.add_argument("--train", type=int, required=True, help="number of train clips")
    parser.add_argument("--test", type=int, required=True, help="number of test clips")
    parser.add_argument("--random-state", type=int, default=0, help="draws the voices and mixtures (default 0)")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the old name of --random-state
    parser.add_argument(
        "--words-from", type=Path, metavar="CORPUS_DIR",
        help="folder-per-word corpus (like Speech Commands), split by speaker; default: eSpeak NG voices",
    )
    args = parser.parse_args(argv)
    if args.seed is not None:
        print("note: --seed is now called --random-state", file=sys.stderr)
        args.random_state = args.seed
    start = time.perf_counter()
    try:
        if args.words_from is None:
            make_embedded_dataset(args.out, n_train=args.train, n_test=args.test, random_state=args.random_state)
        else:
            check_free(args.out)
            train_bank, test_bank = split_bank_by_speaker(
                load_word_folder(args.words_from), test_fraction=TEST_SPEAKER_FRACTION, random_state=args.random_state
            )
            speakers = {speaker for utterances in train_bank.values() for speaker, _ in utterances}
            write_dataset(
                args.out, train_bank=train_bank, test_bank=test_bank,
                n_train=args.train, n_test=args.test, random_state=args.random_state,
                train_groups=speaker_groups({s: s for s in speakers}, n_groups=VOICE_GROUPS, random_state=args.random_state),
            )
    except (OSError, ValueError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.out} ({args.train} train + {args.test} test clips) in {time.perf_counter() - start:.0f} s")
