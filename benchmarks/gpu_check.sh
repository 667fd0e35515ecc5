#!/usr/bin/env bash
# The GPU check, in two halves:
#   bash benchmarks/gpu_check.sh prepare        here, with a package registry: the wheels Jittor
#                                               needs for Python 3.12 and rosinality's step
#                                               script, into .gpu/ (about 56 MiB, git-ignored)
#   bash benchmarks/gpu_check.sh run OUT        on a bare CUDA 13 machine (Python 3.12 with
#                                               PyTorch cu130, no registry; .gpu/ carried):
#                                               everything it measures goes to OUT
# run: install, Jittor's CUDA build, the parity tests on CUDA, then for each convolution path
# one iteration at 64 px profiled (kernel time by kind, graph building against executing,
# memory) and versus_pytorch at 32, 64 and 128 px. Each step has its own time limit (together
# under 10 minutes, the device's limit per command); a step that runs out says so in
# OUT/log.txt and the next one starts.
set -uo pipefail
cd "$(dirname "$0")/.."
PEERS=../shared/reference/peers

prepare() {
    mkdir -p .gpu/wheels .gpu/peers
    python3 -m pip download -q --no-deps -d .gpu/wheels jittor==1.3.11.0 jittor-offline==0.0.7 \
        tqdm==4.70.1 pytest==9.0.3 iniconfig pluggy packaging pygments astunparse six wheel
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .gpu/wheels numpy==1.26.4 pillow==13.0.0 lmdb==3.0.0
    cp "$PEERS"/rosinality_model.py "$PEERS"/rosinality_step.py "$PEERS"/rosinality_LICENSE .gpu/peers/
    du -sh .gpu
}

step() {  # step SECONDS NAME COMMAND...: one line in the log with its status and time
    local limit=$1 name=$2
    shift 2
    local started=$SECONDS
    echo "== $name" >> "$OUT/log.txt"
    timeout "$limit" "$@" >> "$OUT/log.txt" 2>&1
    local status=$?
    echo "== $name: exit $status in $((SECONDS - started)) s" | tee -a "$OUT/log.txt"
}

run() {
    OUT=$1
    mkdir -p "$OUT"
    : > "$OUT/log.txt"
    export PYTHONUNBUFFERED=1
    TORCH_PYTHON=$(command -v python3)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$OUT/log.txt"
    # Jittor wants numpy < 2 beside PyTorch's numpy 2: its own target folder
    step 60 install python3 -m pip install -q --no-index --no-deps --no-build-isolation \
        --target /tmp/site .gpu/wheels/*
    export PYTHONPATH=/tmp/site
    export STYLEGAN_CUDA_LIBS
    # the site-packages holding pip's nvidia/ libraries (PyTorch's cu130 ones), found by path
    STYLEGAN_CUDA_LIBS=$(env -u PYTHONPATH python3 -c "import os, site; print(next(p for p in
        site.getsitepackages() if os.path.isdir(os.path.join(p, 'nvidia'))))")
    nvidia-smi --query-gpu=memory.used --format=csv,noheader -lms 500 > "$OUT/gpu_memory.csv" &
    local sampler=$!
    # the most telling first: each step's limit keeps the whole under 10 minutes
    step 180 "jittor CUDA build" python3 -c "import runtime; runtime.select_device('cuda')"
    step 75 "parity tests on CUDA" python3 -m pytest -q --device cuda test/test_parity.py \
        test/test_official.py
    for path in cudnn jittor; do
        step 45 "profile 64 px, $path" env STYLEGAN_CUDA_CONV=$path python3 benchmark.py profile \
            --size 64 --device cuda --iters 3 --out "$OUT/profile_64px_$path.json"
        step 95 "versus_pytorch, $path" env STYLEGAN_CUDA_CONV=$path python3 benchmark.py \
            versus_pytorch --peer .gpu/peers/rosinality_step.py --python "$TORCH_PYTHON" \
            --sizes 32 64 128 --iters 5
    done
    kill $sampler
    grep -h "x\b\|img/s" "$OUT/log.txt" | tail -20
}

case "${1:-}" in
    prepare) prepare ;;
    run) run "${2:?usage: gpu_check.sh run OUT}" ;;
    *) echo "usage: bash benchmarks/gpu_check.sh prepare | run OUT" >&2; exit 2 ;;
esac
