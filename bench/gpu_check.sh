#!/usr/bin/env bash
# GPU check: throughput + MFU of the paper model (paper vs fast recipe), then a TS2 + NoPE run
# scored on every transitivity suite. Writes OUTDIR/gpu_check.{json,md} and OUTDIR/log.txt.
#
#   bash bench/gpu_check.sh OUTDIR             one GPU, about 8 minutes on an H100
#   bash bench/gpu_check.sh OUTDIR --tiny      CPU smoke test of the same code, about 2 minutes
#   bash bench/gpu_check.sh OUTDIR --minutes 3 shorter training in part (b)
#
# Python: $PYTHON, else the repository's .venv, else python3 (which must have torch with CUDA).
# Dataset cache: $AXIOMATIC_CACHE, else a fresh temporary directory (removed at the end).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: bench/gpu_check.sh OUTDIR [--tiny] [--minutes M] [--skip-accuracy]}
shift

if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
elif [[ -x "$repo/.venv/bin/python" ]]; then
    python=$repo/.venv/bin/python
else
    python=$(command -v python3)
fi

if [[ -z "${AXIOMATIC_CACHE:-}" ]]; then
    AXIOMATIC_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-cache.XXXXXX")
    trap 'rm -rf "$AXIOMATIC_CACHE"' EXIT
fi
export AXIOMATIC_CACHE
export PYTHONPATH="$repo/platform${PYTHONPATH:+:$PYTHONPATH}"
export GPU_CHECK_COMMAND="bash bench/gpu_check.sh $out${*:+ $*}"
if [[ " $* " == *" --tiny "* ]]; then
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the CPU smoke test stays on one core
fi

mkdir -p "$out"
"$python" "$repo/bench/gpu_check.py" --out "$out" "$@" 2>&1 | tee "$out/log.txt"
