#!/usr/bin/env bash
# Run notebooks 01..06 in order with papermill; executed copies go to outputs/notebooks/.
# The runner is utils/runner.py: ./run_all.sh --help lists the options.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec "${PYTHON:-python3}" -m utils.runner "$@"
