#!/usr/bin/env bash
# The GPU check, for a machine WITH a GPU (H100/H200, a CUDA build of torch, nvcc 13), as one
# prepared script so a short device lease is spent on running, not typing: build
# libtorch_local_rnn.so with CUDA (CMake, driven by setup.py), run the CUDA-vs-CPU tests, run the
# GPU benchmark if there is one, and write a short report to ${OUT:-results}/gpu_report.txt (full
# logs beside it). Exits non-zero if the build, the import or the tests fail.
#
#   bash scripts/gpu_check.sh            # PYTHON (default python3), MAX_JOBS (default: all cores),
#                                        # BENCH=0 skips the benchmark, TEST_TIMEOUT (s, default 420)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-results}"
mkdir -p "$OUT"
REPORT="$OUT/gpu_report.txt"
export PYTHONUNBUFFERED=1
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
export TLR_FORCE_CUDA="${TLR_FORCE_CUDA:-1}"  # fail at configure rather than build a CPU-only library
# torch's CMake config takes the toolkit from the nvcc on PATH, which may be a wrapper outside it
# (on our dev machines /usr/local/bin/nvcc); CMakeLists.txt uses CUDA_HOME when set.
[ -z "${CUDA_HOME:-}" ] && [ -x /usr/local/cuda/bin/nvcc ] && export CUDA_HOME=/usr/local/cuda

status=0
say() { echo "$*" | tee -a "$REPORT"; }
: > "$REPORT"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'none found')
torch_info=$("$PYTHON" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda,
                                              "available", torch.cuda.is_available())' 2>&1)
say "torch_local_rnn GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit"
say "gpu: $gpu"
say "nvcc: $(nvcc --version 2>/dev/null | tail -1)"
say "torch: $torch_info"

# --no-deps: the GPU machine has no network; its image already has numpy, tqdm, matplotlib.
start=$SECONDS
if "$PYTHON" -m pip install --no-build-isolation --no-deps -e . > "$OUT/build.log" 2>&1; then
  say "build: ok ($((SECONDS - start)) s, arch $TORCH_CUDA_ARCH_LIST, $MAX_JOBS jobs)"
else
  say "build: FAILED ($((SECONDS - start)) s); errors from $OUT/build.log:"
  grep -E 'error|Error' "$OUT/build.log" | head -20 | tee -a "$REPORT"
  exit 1
fi

kernels=$("$PYTHON" -c 'import torch_local_rnn as t; print(t.has_cuda_kernels())' 2>&1)
if [ "$kernels" = True ]; then
  say "import: ok, has_cuda_kernels() = True"
else
  say "import: FAILED or no CUDA kernels: $kernels"
  exit 1
fi

start=$SECONDS
# A kernel that hangs must not eat a short device lease: the tests get TEST_TIMEOUT seconds in all.
timeout "${TEST_TIMEOUT:-420}" "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider tests/cuda > "$OUT/pytest.log" 2>&1
rc=$?
say "tests/cuda: rc $rc ($((SECONDS - start)) s): $(tail -1 "$OUT/pytest.log")"
if [ $rc -ne 0 ]; then
  status=1
  grep -E '^(FAILED|ERROR)' "$OUT/pytest.log" | cut -c1-300 | head -60 | tee -a "$REPORT"
fi

if [ "${BENCH:-1}" = 0 ]; then
  say "benchmarks/bench_gpu.py: skipped (BENCH=0)"
elif [ -f benchmarks/bench_gpu.py ]; then
  start=$SECONDS
  if timeout "${BENCH_TIMEOUT:-300}" "$PYTHON" benchmarks/bench_gpu.py > "$OUT/bench.log" 2>&1; then
    say "benchmarks/bench_gpu.py: ok ($((SECONDS - start)) s); its output:"
    tail -40 "$OUT/bench.log" | tee -a "$REPORT"
  else
    say "benchmarks/bench_gpu.py: FAILED; last lines:"
    tail -20 "$OUT/bench.log" | tee -a "$REPORT"
    status=1
  fi
else
  say "benchmarks/bench_gpu.py: not present, skipped"
fi

say "overall: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
