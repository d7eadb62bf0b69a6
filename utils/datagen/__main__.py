"""``python -m utils.datagen``: see utils/datagen/cli.py."""
from utils.datagen.cli import main

main()
