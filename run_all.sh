#!/usr/bin/env bash
# Run notebooks 01..06 in order with papermill; executed copies go to outputs/notebooks/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

# The valid names come from the kit's registries (utils/registry.py).
PROFILES="$("$PY" -m utils.registry profiles)" && RECIPES="$("$PY" -m utils.registry recipes)" || {
  echo "run_all.sh: $PY cannot load the kit (error above): pip install -r requirements.txt first" >&2; exit 2; }

usage() {
  cat <<USAGE
Usage: ./run_all.sh [--profile ${PROFILES// /|}] [--recipe ${RECIPES// /|}] [--data DIR] [--from NN] [--parallel-folds]

  --profile  run size (default: full when a GPU is visible, else standard)
  --recipe   mel_tcn (default): cached log-mel, fresh mixtures and voice changes in the mel
             domain, a temporal ResNet, calibration;
             kit: in-model log-mel, on-the-fly waveform augmentation, 2-D ResNet, calibration;
             kit_fresh: kit with fresh waveform mixtures of the dataset's saved words;
             seed: the 26th-place solution's recipe
  --data     a DACON-layout folder (default: the profile's embedded dataset, made under data/)
  --from     run notebook NN (01..06) and the ones after it even if unchanged, reusing what
             earlier steps wrote to outputs/
  --parallel-folds  train the k-fold models of 05 as separate jobs, as many at once as there
                    are GPUs (CUDA_VISIBLE_DEVICES), then gather them into the ensemble

A notebook whose code, parameters, data and earlier steps are unchanged since its last
successful run is skipped, so a run stopped halfway (even by kill -9) picks up where it stopped.
USAGE
}

PROFILE=""
RECIPE="mel_tcn"
DATA=""
FROM=""
PARALLEL_FOLDS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
    --recipe) RECIPE="${2:?--recipe needs a value}"; shift 2 ;;
    --data) DATA="${2:?--data needs a folder}"; shift 2 ;;
    --from) FROM="${2:?--from needs a notebook number}"; shift 2 ;;
    --parallel-folds) PARALLEL_FOLDS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if [ -z "$PROFILE" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then PROFILE=full; else PROFILE=standard; fi
fi
one_of() { local name="$1" valid; shift; for valid in "$@"; do [ "$name" = "$valid" ] && return 0; done; return 1; }
# shellcheck disable=SC2086  # the names are words
one_of "$PROFILE" $PROFILES || { echo "run_all.sh: unknown profile '$PROFILE' (expected one of: $PROFILES)" >&2; exit 2; }
# shellcheck disable=SC2086
one_of "$RECIPE" $RECIPES || { echo "run_all.sh: unknown recipe '$RECIPE' (expected one of: $RECIPES)" >&2; exit 2; }
if [ -n "$FROM" ] && ! [[ "$FROM" =~ ^0[1-6]$ ]]; then
  echo "run_all.sh: --from expects a notebook number 01..06, got '$FROM'" >&2; exit 2
fi
if [ -n "$DATA" ]; then
  [ -d "$DATA" ] || { echo "run_all.sh: --data $DATA is not a folder" >&2; exit 2; }
  DATA="$(cd "$DATA" && pwd)"
fi

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
# Where outputs/ goes: the kit's folder, or a writable place when it is read-only (utils/paths.py).
WORK="$("$PY" -c 'from utils.paths import WORK_ROOT; print(WORK_ROOT)')"
export KIT_WORK_DIR="$WORK"
# One run at a time per outputs folder (utils/runlock.py); this run's children pass with its token.
KIT_RUN_LOCK="$("$PY" -m utils.runlock acquire --pid $$)" || exit 3
export KIT_RUN_LOCK
trap '"$PY" -m utils.runlock release --token "$KIT_RUN_LOCK" || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
OUT="$WORK/outputs/notebooks"
mkdir -p "$OUT"

if [ -z "$DATA" ]; then  # competition data attached on Kaggle or in Colab's Drive, as the notebooks would find it
  DATA="$("$PY" -c 'from utils.environment import hosted_data_dir; print(hosted_data_dir() or "")')"
fi

digest() { "$PY" -c 'import hashlib, sys; print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest())'; }
# What every step depends on besides its own notebook: the kit's code and the data.
code_key="$( { find utils -name '*.py' | LC_ALL=C sort | xargs cat; cat requirements.txt; } | digest)"
if [ -n "$DATA" ]; then
  data_key="$("$PY" -c 'import sys; from utils.dataset.clips import folder_fingerprint; print(folder_fingerprint(sys.argv[1]))' "$DATA")"
else
  data_key="embedded-$PROFILE"
fi


# Each fold of 05 as its own papermill job, one job per GPU at a time (one at a time without a GPU);
# 05 then gathers the saved folds.
run_folds_in_parallel() {
  local notebook="$1"; shift
  local folds gpus slots k first pids
  folds="$("$PY" -c 'import sys; from utils.profiles import get_profile; print(get_profile(sys.argv[1]).folds)' "$PROFILE")"
  gpus="$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)"
  slots=$(( gpus > 0 ? gpus : 1 ))
  for ((first = 0; first < folds; first += slots)); do
    pids=()
    for ((k = first; k < folds && k < first + slots; k++)); do
      (
        [ "$gpus" -gt 0 ] && export CUDA_VISIBLE_DEVICES=$((k % gpus))
        "$PY" -m papermill "$notebook" "$OUT/.fold-$k.ipynb" "$@" -p fold "$k" >"$OUT/05_fold_$k.log" 2>&1
      ) &
      pids+=($!)
    done
    for k in "${!pids[@]}"; do
      if ! wait "${pids[$k]}"; then
        kill "${pids[@]}" 2>/dev/null || true
        echo "FAILED"
        echo "run_all.sh: fold $((first + k)) of notebooks/05_kfold_ensemble.ipynb failed; log: $OUT/05_fold_$((first + k)).log" >&2
        return 1
      fi
    done
  done
  rm -f "$OUT"/.fold-*.ipynb
}

# Data corrections each notebook made (resampled, padded, truncated, ...): printed on stderr as they appear.
METRICS="$WORK/outputs/metrics.json"
shown="$("$PY" -m utils.dataset.corrections count "$METRICS" || echo 0)"
show_new_warnings() { shown="$("$PY" -m utils.dataset.corrections show "$METRICS" --after "$shown" || echo "$shown")"; }

echo "Profile $PROFILE, recipe $RECIPE, data ${DATA:-embedded (data/embedded-$PROFILE)}, backend ${KERAS_BACKEND:-tensorflow}"
total_start=$SECONDS
previous_key=""
for notebook in notebooks/0[1-6]_*.ipynb; do
  name="$(basename "$notebook" .ipynb)"
  done_file="$OUT/.done-$name"
  if [ -n "$FROM" ] && [[ "${name:0:2}" < "$FROM" ]]; then
    previous_key="$(cat "$done_file" 2>/dev/null || true)"
    continue
  fi
  args=(-k python3 --cwd "$ROOT" --no-progress-bar -p profile "$PROFILE")
  [ -n "$DATA" ] && args+=(-p data_dir "$DATA")
  [ "$name" != 06_submit ] && args+=(-p recipe "$RECIPE")  # 06 takes the recipe the models were trained with
  key="$( { echo "$previous_key $code_key $data_key ${KERAS_BACKEND:-tensorflow} ${args[*]}"; cat "$notebook"; } | digest)"
  previous_key="$key"
  printf '[%s] %-20s ' "${name:0:2}" "${name:3}"
  if [ -z "$FROM" ] && [ -f "$OUT/$name.ipynb" ] && [ "$(cat "$done_file" 2>/dev/null)" = "$key" ]; then
    echo "skipped (unchanged since its last run)"
    continue
  fi
  rm -f "$done_file"
  partial="$OUT/.partial-$name.ipynb"
  log="$OUT/$name.log"
  start=$SECONDS
  if [ "$name" = 05_kfold_ensemble ] && [ -n "$PARALLEL_FOLDS" ]; then
    run_folds_in_parallel "$notebook" "${args[@]}" || exit 1
  fi
  if "$PY" -m papermill "$notebook" "$partial" "${args[@]}" >"$log" 2>&1; then
    mv "$partial" "$OUT/$name.ipynb"
    echo "$key" >"$done_file.tmp" && mv "$done_file.tmp" "$done_file"
    echo "done in $((SECONDS - start)) s"
    show_new_warnings
  else
    [ -f "$partial" ] && mv "$partial" "$OUT/$name.ipynb"
    echo "FAILED after $((SECONDS - start)) s"
    show_new_warnings
    error="$(grep -E '^[A-Za-z_.]*(Error|Exception|Interrupt)\b' "$log" | tail -n 1 || true)"
    echo "run_all.sh: notebooks/$name.ipynb failed: ${error:-see the log}" >&2
    echo "  log: $log; executed notebook: $OUT/$name.ipynb" >&2
    exit 1
  fi
done

echo "All notebooks ran in $((SECONDS - total_start)) s"
# One HTML page of the executed notebooks, code hidden; it prints "Report: PATH".
# A failed report is only warned about: the submission is already written.
"$PY" -m utils.results.report --notebooks "$OUT" --out "$WORK/outputs/report.html" \
  || echo "run_all.sh: the report could not be built (error above)" >&2
"$PY" -c "import sys; from utils.results.submission import summary_line; print(summary_line(sys.argv[1]))" "$METRICS"
