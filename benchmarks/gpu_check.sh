#!/usr/bin/env bash
# The GPU paths, checked end to end: run this first on any new GPU (or Apple-silicon) machine.
#
#   benchmarks/gpu_check.sh                  # PYTHON=/path/to/python to choose the interpreter
#
# Prints one line per check (PASS, FAIL or SKIP, and what), keeps every check's log in
# $GPU_CHECK_DIR (default: a new temporary folder) and exits 1 if any check failed. On CUDA:
# every architecture x objective for two short epochs with the speed defaults (bf16 autocast,
# channels-last), the speed modes one by one (fp32, for-each Adam, torch.compile in each mode),
# resumes across devices (train on the GPU, resume and sample on the CPU, and back), a data load
# onto a full GPU, auto's choice among several GPUs, and a short benchmark. On MPS the same minus
# what MPS lacks. On a machine with neither it runs the CPU simulations of these paths
# (tests/test_gpu_paths.py) and a CPU run, and says which checks it skipped. Its duration on a GPU
# is not measured yet (no GPU was at hand when it was written); each check has its own time limit.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
OUT=${GPU_CHECK_DIR:-$(mktemp -d -t gpu_check.XXXXXX)}
JOBS=${GPU_CHECK_JOBS:-4}          # short runs trained side by side on the one device
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PY OUT
failed=0
queued=()

result() {  # name status log: the check's one line
    local what
    what=$(grep -v '^[[:space:]]*$' "$3" 2>/dev/null | tail -n 1 | cut -c1-180)
    case $2 in
        0) echo "PASS $1${what:+: $what}" ;;
        3) echo "SKIP $1: $what" ;;
        124|137) echo "FAIL $1: timed out (log: $3)"; failed=$((failed + 1)) ;;
        *) echo "FAIL $1: ${what:-exit status $2} (log: $3)"; failed=$((failed + 1)) ;;
    esac
}

skip() { echo "SKIP $1: $2"; }

# (through bash -c: a command may be one of the functions exported below)
check() {  # name timeout_s command...: run now, print its line
    local name=$1 t=$2
    shift 2
    timeout -k 10 "$t" bash -c '"$@"' _ "$@" >"$OUT/$name.log" 2>&1
    result "$name" $? "$OUT/$name.log"
}

later() {  # name timeout_s command...: run in the background ($JOBS at once); `collect` prints
    local name=$1 t=$2
    shift 2
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    ( timeout -k 10 "$t" bash -c '"$@"' _ "$@" >"$OUT/$name.log" 2>&1; echo $? >"$OUT/$name.rc" ) &
    queued+=("$name")
}

collect() {
    wait
    local name
    for name in "${queued[@]}"; do result "$name" "$(cat "$OUT/$name.rc")" "$OUT/$name.log"; done
    queued=()
}

# train NAME DEVICE_TYPE FLAGS...: a short run into $OUT/NAME, then its folder checked
train() {
    local name=$1 kind=$2
    shift 2
    "$PY" -m playground train --run-dir "$OUT/$name" --quiet "$@" &&
        "$PY" benchmarks/gpu_check.py verify "$OUT/$name" "$kind"
}
export -f train

# resume NAME DEVICE_TYPE EPOCHS: continue a run (its config's device), then check it again
resume() {
    "$PY" -m playground train --run-dir "$OUT/$1" --resume --epochs "$3" --quiet &&
        "$PY" benchmarks/gpu_check.py verify "$OUT/$1" "$2"
}
export -f resume

IMAGES=(--dataset fashion-mnist --data-source bundled --max-images 512 --batch-size 64 --epochs 2
        --log-every 4 --sample-count 16 --quality-samples 256 --z-dim 32 --g-filters 32 --d-filters 32)
TOY=(--arch toy --max-images 1024 --batch-size 128 --epochs 2 --log-every 4 --quality-samples 512)

# GPU_CHECK_DEVICE=cpu runs the device checks on the CPU (slowly): a try of this script itself
DEV=${GPU_CHECK_DEVICE:-$("$PY" benchmarks/gpu_check.py device 2>/dev/null || echo none)}
echo "gpu_check: device ${DEV}, python $PY, logs in $OUT"
"$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" \
    2>&1 | sed 's/^/  /'

# ---------------------------------------------------------------- everywhere: the CPU simulations
if "$PY" -m pytest --version >/dev/null 2>&1; then
    check simulated-devices 600 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu_paths.py
else
    skip simulated-devices "pytest is not installed (pip install -r requirements-dev.txt)"
fi

if [ "$DEV" = none ]; then
    check cpu-run 300 train cpu-run cpu "${IMAGES[@]}" --arch mlp --objective bce --epochs 1 --device cpu
    for what in "architecture x objective matrix" "speed modes and torch.compile" \
                "resume across devices" "out of memory on a full GPU" "auto among several GPUs" \
                "benchmark"; do
        skip "$what" "no CUDA or MPS device on this machine"
    done
    echo "gpu_check: $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# ---------------------------------------------------------------- every architecture x objective
for arch in mlp dcgan; do
    for obj in bce minimax lsgan hinge wgan-gp; do
        extra=()
        case $obj in
            hinge) extra=(--conditional) ;;
            wgan-gp) extra=(--conditional --replay 0.5 --replay-size 256 --lr-g 1e-4 --lr-d 1e-4
                            --beta1 0 --beta2 0.9) ;;
        esac
        later "$arch-$obj" 600 train "$arch-$obj" "$DEV" "${IMAGES[@]}" --arch "$arch" \
            --objective "$obj" --device "$DEV" "${extra[@]}"
    done
done
later toy-grid 600 train toy-grid "$DEV" "${TOY[@]}" --dataset grid --conditional --device "$DEV"
later toy-ring-wgan 600 train toy-ring-wgan "$DEV" "${TOY[@]}" --dataset ring --objective wgan-gp --device "$DEV"
later device-auto 600 train device-auto "$DEV" "${IMAGES[@]}" --arch dcgan --device auto
collect
check toy-grid-fp32-points 60 "$PY" benchmarks/gpu_check.py toy-points "$OUT/toy-grid"

# ---------------------------------------------------------------- speed modes
later dcgan-plain 600 train dcgan-plain "$DEV" "${IMAGES[@]}" --arch dcgan --device "$DEV" \
    --precision fp32 --no-channels-last --no-fused-adam --joint-d-batch off
later mlp-joint-dropout 600 train mlp-joint-dropout "$DEV" "${IMAGES[@]}" --arch mlp --device "$DEV" \
    --joint-d-batch on --dropout 0.3
if [ "$DEV" = cuda ]; then
    later dcgan-bf16-channels-last 600 train dcgan-bf16-channels-last "$DEV" "${IMAGES[@]}" --arch dcgan \
        --device "$DEV" --precision bf16 --channels-last
fi
collect
if [ "$DEV" = cuda ]; then
    # one at a time: compiling uses every core
    for mode in default reduce-overhead max-autotune; do
        check "compile-$mode" 600 train "compile-$mode" cuda "${IMAGES[@]}" --arch dcgan --device cuda \
            --compile --compile-mode "$mode"
    done
    check compile-reduce-overhead-wgan-gp 600 train compile-reduce-overhead-wgan-gp cuda "${IMAGES[@]}" \
        --arch mlp --objective wgan-gp --conditional --replay 0.5 --replay-size 256 --device cuda \
        --compile --compile-mode reduce-overhead
else
    skip "bf16, channels-last and torch.compile" "CUDA only here"
fi

# ---------------------------------------------------------------- resume across devices
check resume-gpu-train 600 train resume "$DEV" "${IMAGES[@]}" --arch dcgan --epochs 1 --device "$DEV" \
    --no-fused-adam
check resume-gpu-adam-state 600 "$PY" benchmarks/gpu_check.py adam-state "$OUT/resume" "$DEV"
check resume-gpu-cli 600 resume resume "$DEV" 3
check sample-on-cpu 120 env CUDA_VISIBLE_DEVICES= "$PY" -m playground sample --run-dir "$OUT/resume" \
    --n 16 --out "$OUT/resume-samples.png"
cp -r "$OUT/resume" "$OUT/resume-cpu"
"$PY" benchmarks/gpu_check.py set-device "$OUT/resume-cpu" cpu
check resume-on-cpu 600 env CUDA_VISIBLE_DEVICES= bash -c 'resume resume-cpu cpu 4'
check cpu-train 600 train from-cpu cpu "${IMAGES[@]}" --arch dcgan --epochs 1 --device cpu --threads 4
"$PY" benchmarks/gpu_check.py set-device "$OUT/from-cpu" "$DEV"
check resume-cpu-run-on-gpu 600 resume from-cpu "$DEV" 2

# ---------------------------------------------------------------- a shared GPU server
if [ "$DEV" = cuda ]; then
    check out-of-memory-message 300 "$PY" benchmarks/gpu_check.py oom cuda
    check auto-picks-freest-gpu 300 "$PY" benchmarks/gpu_check.py auto-gpu
else
    skip "out of memory, auto among GPUs" "CUDA only"
fi

# ---------------------------------------------------------------- the benchmark
check benchmark 600 "$PY" -m playground bench --device "$DEV" --models mlp-28,dcgan-28 --repeats 2 \
    --window-s 1 --out "$OUT/bench.json"
[ -f "$OUT/benchmark.log" ] && grep '^|' "$OUT/benchmark.log" | sed 's/^/  /'

echo "gpu_check: $failed failed"
[ "$failed" -eq 0 ]
