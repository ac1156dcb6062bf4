#!/usr/bin/env bash
# The GPU check, for a machine WITH a GPU (H100/H200, a CUDA build of torch, nvcc 13), as one
# prepared script so a short device lease is spent on running, not typing: build
# libtorch_local_rnn.so with CUDA (CMake, driven by setup.py), run the CUDA-vs-CPU tests (tests/cuda),
# run the GPU benchmark (benchmarks/bench_gpu.py: its record, gpu_bench.json, also goes to
# docs/results/), and put into ${OUT:-results}/ the report (gpu_report.txt, also printed to stdout as it
# goes), the record (gpu_bench.json) and the logs (build.log, pytest.log, bench.log): five files.
# Exits non-zero if the build, the import, the tests or a benchmark case fail; the benchmark runs after
# failed tests too (its numbers are wanted either way), not after a failed build or import.
#
#   bash scripts/gpu_check.sh            # PYTHON (default python3), MAX_JOBS (default: all cores),
#                                        # BENCH=0 skips the benchmark, TLR_NO_AVX2_STEP (default 1),
#                                        # TLR_PTXAS_THREADS (ptxas threads; default 0, one per CPU)
#
# Time: the whole script aims to end within TOTAL_BUDGET seconds (default 570: the device tool stops a
# command at 600 s). The tests get at most TEST_TIMEOUT (default 300) and leave BENCH_RESERVE (default 180)
# of the budget to the benchmark, which gets at most BENCH_TIMEOUT (default 300) and what is left; the
# benchmark writes its record straight into $OUT after every case, so even a run cut short returns it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-results}"
mkdir -p "$OUT"
REPORT="$OUT/gpu_report.txt"
BENCH_JSON="docs/results/gpu_bench.json"
export PYTHONUNBUFFERED=1
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
export TLR_PTXAS_THREADS="${TLR_PTXAS_THREADS:-0}"  # the slowest files' kernels side by side (docs/design.md §2.3)
export TLR_FORCE_CUDA="${TLR_FORCE_CUDA:-1}"  # fail at configure rather than build a CPU-only library
# The CPU online step's AVX2 copy (cpu/online_step_cpu.h, docs/design.md §1.6) is most of the CPU compile
# time and gives bitwise the baseline copy's results; here the CPU op is only the CUDA tests' reference
# (and the benchmark's CPU column, measured with the baseline copy), so leave it out to spend the lease on
# the GPU. ops.online_step_isa() then says "baseline-only". TLR_NO_AVX2_STEP=0 builds it.
export TLR_NO_AVX2_STEP="${TLR_NO_AVX2_STEP:-1}"
# torch's CMake config takes the toolkit from the nvcc on PATH, which may be a wrapper outside it
# (on our dev machines /usr/local/bin/nvcc); CMakeLists.txt uses CUDA_HOME when set.
[ -z "${CUDA_HOME:-}" ] && [ -x /usr/local/cuda/bin/nvcc ] && export CUDA_HOME=/usr/local/cuda

TOTAL_BUDGET="${TOTAL_BUDGET:-570}"
status=0
failed=()
# min(cap, seconds left of TOTAL_BUDGET - reserve), at least 60
time_for() {
  local cap="$1" reserve="$2" left
  left=$(( TOTAL_BUDGET - (SECONDS - begin) - reserve ))
  [ $left -lt 60 ] && left=60
  [ $left -lt "$cap" ] && echo $left || echo "$cap"
}
say() { echo "$*" | tee -a "$REPORT"; }
# A log that comes back must stay under 16 MiB: keep its head and tail.
cap_log() {
  local f="$1" limit=$((15 * 1024 * 1024))
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $limit ]; then
    { head -c $((limit / 2)); echo; echo "[... cut to keep the log under 16 MiB ...]"; tail -c $((limit / 2)); } \
      < "$f" > "$f.cut" && mv "$f.cut" "$f"
  fi
}
finish() {
  for f in "$OUT/build.log" "$OUT/pytest.log" "$OUT/bench.log"; do cap_log "$f"; done
  say "total: $((SECONDS - begin)) s"
  if [ $status -eq 0 ]; then
    say "overall: PASS"
  else
    say "overall: FAIL (${failed[*]})"
  fi
  say "files in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
  exit $status
}

begin=$SECONDS
: > "$REPORT"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
dirty=$(git status --porcelain 2>/dev/null | grep -c . || true)
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'none found')
torch_info=$("$PYTHON" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda,
                                              "available", torch.cuda.is_available())' 2>&1)
say "torch_local_rnn GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit ($dirty paths changed or new)"
say "gpu: $gpu"
say "nvcc: $(nvcc --version 2>/dev/null | tail -1)"
say "torch: $torch_info; python $("$PYTHON" -c 'import platform; print(platform.python_version())' 2>&1)"
say "cpu: $(nproc) cores; MAX_JOBS=$MAX_JOBS TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST" \
    "TLR_NO_AVX2_STEP=$TLR_NO_AVX2_STEP TLR_PTXAS_THREADS=$TLR_PTXAS_THREADS"

# --no-deps: the GPU machine has no network; its image already has numpy, tqdm, matplotlib.
start=$SECONDS
if "$PYTHON" -m pip install --no-build-isolation --no-deps -e . > "$OUT/build.log" 2>&1; then
  say "build: ok ($((SECONDS - start)) s, arch $TORCH_CUDA_ARCH_LIST, $MAX_JOBS jobs)"
  grep -E 'torch_local_rnn: CUDA=' "$OUT/build.log" | tail -1 | tee -a "$REPORT"
else
  say "build: FAILED ($((SECONDS - start)) s); errors from $OUT/build.log:"
  grep -E 'error|Error' "$OUT/build.log" | cut -c1-400 | head -30 | tee -a "$REPORT"
  say "last lines of $OUT/build.log:"
  tail -15 "$OUT/build.log" | cut -c1-400 | tee -a "$REPORT"
  status=1; failed+=(build)
  finish
fi

start=$SECONDS
kernels=$("$PYTHON" -c 'import torch_local_rnn as t; print(t.has_cuda_kernels(), t.ops.online_step_isa())' 2>&1)
answer=$(echo "$kernels" | tail -1)  # the last line: a warning printed on import comes before it
if [ "${answer%% *}" = True ]; then
  say "import: ok ($((SECONDS - start)) s), has_cuda_kernels() = True, online_step_isa() = ${answer#* }"
else
  say "import: FAILED or no CUDA kernels ($((SECONDS - start)) s): $(echo "$kernels" | tail -5)"
  status=1; failed+=(import)
  finish
fi

# The C++ runtime the library resolves. On the H200 image an integer streamed into an error message (c10::str)
# segfaulted in libstdc++ code that gdb placed inside libtorch_local_rnn.so (docs/results/gpu_report_h200.txt):
# the compiler, the libstdc++ it links, the stream and locale symbols it defines itself (a static copy of them
# beside the shared libstdc++'s would explain it), and one CPU op's error with integers, in a process of its own.
lib=torch_local_rnn/libtorch_local_rnn.so
say "c++: $(${CXX:-c++} --version 2>&1 | head -1); links $(ldd "$lib" 2>/dev/null | grep -E 'libstdc|libgcc_s' \
  | awk '{print $3}' | tr '\n' ' ')"
say "libstdc++ stream/locale symbols defined in $lib: $(nm -DC --defined-only "$lib" 2>/dev/null \
  | grep -cE 'std::(basic_ostream|num_put|locale|codecvt)')"
probe=$(timeout 60 "$PYTHON" -c '
import torch, torch_local_rnn
try:
    torch.ops.torch_local_rnn.leaky_rnn_forward(torch.zeros(5, 2, 3), torch.zeros(2, 4), torch.zeros(4, 4),
                                                torch.zeros(4, 2), torch.zeros(4), 0.5, "tanh")
    print("no error raised")
except RuntimeError as error:
    print("raised:", str(error)[:160])
' 2>&1)
probe_rc=$?  # 139: the segfault again
say "integer in a CPU op's error message (rc $probe_rc): $(echo "$probe" | tail -1)"

start=$SECONDS
# A kernel that hangs must not eat a short device lease: the tests get test_s seconds in all.
test_s=$(time_for "${TEST_TIMEOUT:-300}" "${BENCH_RESERVE:-180}")
# Four pytest-xdist workers when the image has the plugin: faster, and a test that crashes its process takes
# down one worker (reported, the rest go on) rather than the whole run and its summary.
workers=()
"$PYTHON" -c 'import xdist' 2>/dev/null && workers=(-n 4)
timeout -k 10 "$test_s" "$PYTHON" -m pytest -q -rfEs --tb=short -p no:cacheprovider "${workers[@]}" tests/cuda \
  > "$OUT/pytest.log" 2>&1
rc=$?
summary=$(tail -1 "$OUT/pytest.log")
[ $rc -eq 124 ] || [ $rc -eq 137 ] && summary="TIMED OUT after $test_s s; last line: $summary"
say "tests/cuda: rc $rc ($((SECONDS - start)) s): $summary"
if [ $rc -ne 0 ]; then
  status=1; failed+=(tests)
  grep -E '^(FAILED|ERROR)|crashed while running' "$OUT/pytest.log" | cut -c1-200 | head -30 | tee -a "$REPORT"
  # A crashed test: its native backtrace, from cuda-gdb (the image's only debugger), into the report.
  crashed=$(grep -oE "crashed while running '[^']+'" "$OUT/pytest.log" | head -1 | cut -d"'" -f2)
  if [ -n "$crashed" ] && command -v cuda-gdb > /dev/null; then
    say "native backtrace of $crashed:"
    timeout -k 5 90 cuda-gdb -q -batch -ex run -ex bt -ex quit --args "$PYTHON" -m pytest -q -x -p no:cacheprovider \
      "$crashed" 2>&1 | grep -E '^#[0-9]+ ' | cut -c1-220 | head -25 | tee -a "$REPORT"
  fi
fi

if [ "${BENCH:-1}" = 0 ]; then
  say "benchmarks/bench_gpu.py: skipped (BENCH=0)"
else
  start=$SECONDS
  bench_s=$(time_for "${BENCH_TIMEOUT:-300}" 15)
  rm -f "$BENCH_JSON" "$OUT/gpu_bench.json"
  say "benchmarks/bench_gpu.py (at most $bench_s s; record -> $OUT/gpu_bench.json, then $BENCH_JSON), its output:"
  # The benchmark's lines go to stdout and the report as they come; it rewrites the record after every case,
  # so a run cut short still leaves what it measured. --max-seconds: it starts no case after that.
  timeout -k 10 "$bench_s" "$PYTHON" benchmarks/bench_gpu.py --json "$OUT/gpu_bench.json" \
    --max-seconds $(( bench_s * 3 / 4 )) 2>&1 | tee "$OUT/bench.log" | cut -c1-400 | tee -a "$REPORT"
  rc=${PIPESTATUS[0]}
  if [ $rc -eq 0 ]; then
    say "benchmarks/bench_gpu.py: ok ($((SECONDS - start)) s)"
  else
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && why="timed out after $bench_s s" || why="rc $rc"
    [ $rc -eq 3 ] && why="rc 3: some cases recorded errors (see {\"error\": ...} in the record)"
    say "benchmarks/bench_gpu.py: FAILED ($((SECONDS - start)) s, $why)"
    status=1; failed+=(bench)
  fi
  if [ -f "$OUT/gpu_bench.json" ]; then
    cp "$OUT/gpu_bench.json" "$BENCH_JSON"
    say "record: $OUT/gpu_bench.json ($(stat -c %s "$BENCH_JSON") bytes), copied to $BENCH_JSON"
  else
    say "record: $OUT/gpu_bench.json was not written"
  fi
fi

finish
