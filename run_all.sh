#!/usr/bin/env bash
# Run notebooks 01..06 in order with papermill; executed copies go to outputs/notebooks/.
# The runner is utils/runner.py: ./run_all.sh --help lists the options.
set -euo pipefail
export KIT_CALLER_DIR="$PWD"  # --data is relative to where run_all.sh was called from
cd "$(dirname "${BASH_SOURCE[0]}")"
# stop with a message if a package is missing (on Colab and Kaggle: install it first)
"${PYTHON:-python3}" -c 'import sys; from utils.environment import check_runner_modules as c; sys.exit(c())'
exec "${PYTHON:-python3}" -m utils.runner "$@"
