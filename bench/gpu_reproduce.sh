#!/usr/bin/env bash
# The paper's evaluation table in one call: configs/gpu_reproduce.yaml (the paper model, NoPE, TS2,
# the learning levers) trained inside a budget, every transitivity suite and published file
# scored beside the paper's numbers and the shortcuts. Writes OUTDIR/reproduce.{md,json}, log.txt.
# Then the training throughput of the paper recipe, the fast recipe and packed rows side by side
# (bench/throughput.py: the paper model on a GPU, the CPU recipe's small model with --tiny):
# OUTDIR/throughput.{md,json}. Then 1, 2 and 4 small cells sharing the device through a study with
# fractional resources (bench/trials_per_device.py): OUTDIR/trials_per_device.{md,json}. The budget
# covers the reproduction only; the two tables add their own minutes (on a GPU four of the
# throughput's sections compile the paper model; neither table has been timed on a GPU yet).
#
#   bash bench/gpu_reproduce.sh OUTDIR             one GPU, 9 minutes of training, the tables after
#   bash bench/gpu_reproduce.sh OUTDIR --tiny      the same path on a CPU, about a minute and a half
#   bash bench/gpu_reproduce.sh OUTDIR --minutes 5 another budget
#   bash bench/gpu_reproduce.sh OUTDIR --parts throughput,trials   some of the three parts only
#                                                  (reproduce, throughput, trials; all by default),
#                                                  e.g. to fit a limit on one command's time
#
# Python: $PYTHON, else the repository's .venv, else python3 (which must have torch with CUDA).
# Wheels: $AXIOMATIC_WHEELS, a folder made by bench/offline_wheels.sh, is installed into it first
# (no index, no dependencies): what a machine without network access lacks.
# Dataset cache: $AXIOMATIC_CACHE, else a fresh temporary directory (removed at the end).
# Published files: $AXIOMATIC_PUBLISHED_DIR, else ../shared/benchmarks/causal_axioms.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: bench/gpu_reproduce.sh OUTDIR [--tiny] [--minutes M] [--parts LIST]}
shift
parts=reproduce,throughput,trials
args=()  # what gpu_reproduce.py is given: the arguments less --parts
while (($#)); do
    if [[ "$1" == "--parts" ]]; then
        parts=${2:?--parts needs a comma-separated list of reproduce, throughput, trials}
        shift 2
    else
        args+=("$1")
        shift
    fi
done
for part in ${parts//,/ }; do
    case $part in
        reproduce|throughput|trials) ;;
        *) echo "bench/gpu_reproduce.sh: --parts: unknown part '$part' (expected reproduce, throughput, trials)" >&2
           exit 2 ;;
    esac
done
wanted() { [[ ",$parts," == *",$1,"* ]]; }

if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
elif [[ -x "$repo/.venv/bin/python" ]]; then
    python=$repo/.venv/bin/python
else
    python=$(command -v python3)
fi

if [[ -n "${AXIOMATIC_WHEELS:-}" ]]; then
    "$python" -m pip install -q --no-index --no-deps "$AXIOMATIC_WHEELS"/*.whl
fi

if [[ -z "${AXIOMATIC_CACHE:-}" ]]; then
    AXIOMATIC_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/gpu-reproduce-cache.XXXXXX")
    trap 'rm -rf "$AXIOMATIC_CACHE"' EXIT
fi
export AXIOMATIC_CACHE
export PYTHONPATH="$repo/platform${PYTHONPATH:+:$PYTHONPATH}"
export GPU_REPRODUCE_COMMAND="bash bench/gpu_reproduce.sh $out${args[*]:+ ${args[*]}}"
throughput=(--run-file "$repo/configs/gpu_reproduce.yaml" --rows 20000 --pack-length 1024 --rounds 3 --steps 10)
trials=(--cells 4 --steps 300 --concurrent 1 2 4)
if [[ " ${args[*]:-} " == *" --tiny "* ]]; then
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the CPU smoke test stays on one core
    throughput=(--run-file "$repo/configs/cpu_small.yaml" --rows 4000 --pack-length 256 --rounds 1 --steps 2 --eval-rows 500)
    trials=(--tiny)
fi

mkdir -p "$out"
: >>"$out/log.txt"
if wanted reproduce; then
    "$python" "$repo/bench/gpu_reproduce.py" --out "$out" "${args[@]}" 2>&1 | tee -a "$out/log.txt"
fi
if wanted throughput; then
    "$python" "$repo/bench/throughput.py" "${throughput[@]}" --out "$out" 2>&1 | tee -a "$out/log.txt"
fi
if wanted trials; then
    "$python" "$repo/bench/trials_per_device.py" "${trials[@]}" --out "$out" 2>&1 | tee -a "$out/log.txt"
fi
