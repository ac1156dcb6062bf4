#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run of the C++ code: builds the op library and the GoogleTest
# binary with -fsanitize=address,undefined (CMake option TLR_SANITIZE) into their own folder, build-asan/ (never
# build-cmake/, the library Python normally loads), runs the GoogleTest binary, then a pytest subset with the
# sanitized library loaded into Python (TLR_LIBRARY, see torch_local_rnn/_library.py). Any sanitizer report fails
# the run (UBSan: -fno-sanitize-recover and halt_on_error; ASan stops at its first error).
#
#   bash scripts/sanitize.sh                      # build, GoogleTest, the default pytest subset
#   bash scripts/sanitize.sh tests/ops -k errors  # other pytest arguments instead of the default subset
#
# Environment: PYTHON (default python), JOBS (build jobs, default 2), TLR_ASAN_BUILD (default build-asan).
# CPU only (TLR_CUDA=OFF): ASan does not see inside CUDA kernels (compute-sanitizer does; scripts/gpu_check.sh).
#
# detect_leaks=0: LeakSanitizer would report what torch and CPython allocate once and never free (the op
# registry, interned strings, the CUDA-less allocator caches): neither is instrumented and both keep such memory
# alive until exit by design, so the leak report is noise; the library's own tensors are torch-owned and freed
# by refcount. Everything else ASan checks (out-of-bounds, use-after-free, double free) stays on.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUILD=${TLR_ASAN_BUILD:-build-asan}
JOBS=${JOBS:-2}
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
CXX_BIN=${CXX:-c++}
LIBASAN=$("$CXX_BIN" -print-file-name=libasan.so)
LIBUBSAN=$("$CXX_BIN" -print-file-name=libubsan.so)
for lib in "$LIBASAN" "$LIBUBSAN"; do
  if [ ! -f "$lib" ]; then
    echo "sanitize.sh: $lib not found (the compiler's sanitizer runtimes are needed)" >&2
    exit 2
  fi
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

start=$(date +%s)
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DTLR_SANITIZE=address,undefined -DTLR_BUILD_TESTS=ON -DTLR_CUDA=OFF
# the build runs the GoogleTest binary to list its tests (gtest_discover_tests): ASAN_OPTIONS above apply
cmake --build "$BUILD" -j "$JOBS"
echo "== sanitize.sh: built in $(( $(date +%s) - start )) s"

step=$(date +%s)
"$BUILD/tlr_cpp_tests" --gtest_brief=1
echo "== sanitize.sh: GoogleTest under ASan/UBSan clean ($(( $(date +%s) - step )) s)"

step=$(date +%s)
if [ "$#" -eq 0 ]; then
  set -- tests/ops tests/rules/test_rules_errors.py tests/rules/test_rules_reference.py \
         tests/modules/test_module_properties.py -m "not slow" -p no:cacheprovider
fi
# libasan first in the process (Python itself is not instrumented), then the sanitized library instead of the
# package's own
LD_PRELOAD="$LIBASAN $LIBUBSAN" TLR_LIBRARY="$PWD/$BUILD/libtorch_local_rnn.so" "$PY" -c '
import os, torch_local_rnn, torch_local_rnn._library as lib
assert lib.library_path() == os.environ["TLR_LIBRARY"], lib.library_path()
print("== sanitize.sh: python loads", lib.library_path())'
LD_PRELOAD="$LIBASAN $LIBUBSAN" TLR_LIBRARY="$PWD/$BUILD/libtorch_local_rnn.so" "$PY" -m pytest -q "$@"
echo "== sanitize.sh: pytest under ASan/UBSan clean ($(( $(date +%s) - step )) s); total $(( $(date +%s) - start )) s"
