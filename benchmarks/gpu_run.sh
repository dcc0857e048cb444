#!/usr/bin/env bash
# One run on a machine with an NVIDIA GPU (issue 18): install the gpu extra, run the GPU tests,
# a `dlkit train --device cuda` smoke run and the GPU benchmarks; logs and the benchmark JSON
# go to $OUT (default ./gpu_out). Capped at about 8 minutes in all:
#   install <= 60 s, tests <= 270 s, CLI <= 40 s, benchmarks <= 180 s.
# Run from the repository root:  bash benchmarks/gpu_run.sh
# Files written (7): env.log install.log gpu_tests.log cli_train.log gpu_bench.log
#                    gpu_bench.json summary.txt
set -u
OUT=${OUT:-./gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)
say() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/summary.txt"; }

{ date -u; nvidia-smi; "$PY" --version; "$PY" -m pip list 2>/dev/null \
    | grep -iE "^(cupy|torch |numpy|pytest|click|tqdm|safetensors) "; } >"$OUT/env.log" 2>&1
say "environment: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"

# 1. the gpu extra. Machines without internet already hold CuPy (e.g. cupy-cuda13x): then only
#    dlkit itself is installed, without dependencies; else pip installs ".[gpu]" (cupy-cuda12x).
if [ -n "${GPU_RUN_SKIP_INSTALL:-}" ]; then  # a dry run elsewhere: install nothing
    say "install skipped (GPU_RUN_SKIP_INSTALL)"
elif "$PY" -c "import cupy" >/dev/null 2>&1; then
    say "CuPy $("$PY" -c 'import cupy; print(cupy.__version__)') already installed; installing dlkit without deps"
    timeout 60 "$PY" -m pip install --no-deps --no-build-isolation --target /tmp/dlkit_site . \
        >"$OUT/install.log" 2>&1 || say "pip install . failed (see install.log); using src/"
else
    say "installing .[gpu]"
    timeout 60 "$PY" -m pip install ".[gpu]" >"$OUT/install.log" 2>&1 \
        || say "pip install .[gpu] failed (see install.log)"
fi
"$PY" -c "import dlkit as dl; print('dl.cuda.is_available():', dl.cuda.is_available(), dl.cuda.unavailable_reason() or '')" \
    2>&1 | tee -a "$OUT/summary.txt"

# 2. the GPU tests (op registry on CuPy float32/float64, gradient checks, ResNet/LSTM LM/dlkit
#    train on GPU vs CPU, checkpoints across devices)
say "GPU tests"
timeout 270 "$PY" -m pytest tests/gpu -m gpu -q -rfEs -p no:cacheprovider --durations=15 \
    >"$OUT/gpu_tests.log" 2>&1
say "GPU tests exit code $? : $(tail -1 "$OUT/gpu_tests.log")"

# 3. the CLI as the README says
say "dlkit train --device cuda"
timeout 40 "$PY" -m dlkit.cli train --device cuda --epochs 3 --out /tmp/gpu_run_train \
    --overwrite --no-progress >"$OUT/cli_train.log" 2>&1
say "dlkit train exit code $? : $(tail -1 "$OUT/cli_train.log")"

# 4. benchmarks: dlkit-on-CuPy vs PyTorch CUDA, each in its own process, + dlkit CPU resnet
say "benchmarks"
timeout 180 "$PY" benchmarks/gpu_bench.py --out "$OUT/gpu_bench.json" --timeout 80 \
    >"$OUT/gpu_bench.log" 2>&1
say "benchmarks exit code $?"
grep -A12 '"ratios"' "$OUT/gpu_bench.json" >>"$OUT/summary.txt" 2>/dev/null
say "done"
