#!/usr/bin/env bash
# The CUDA build linked and loaded where there is no GPU (docs/design.md §2.3): what check_cuda_compile.sh
# (compile only, CPU torch headers, -O1) cannot show — that the whole library builds with CUDA as
# scripts/gpu_check.sh builds it (release flags, sm_90, no AVX2 copy), resolves every symbol against a CUDA
# build of torch, and loads with has_cuda_kernels() true; then the C++ tests and pytest's fast tier run on
# it (the CUDA tests skip: no GPU). Run it before a GPU lease is spent on a changed CUDA path.
#
#   bash scripts/check_cuda_link.sh      # VENV (default /tmp/tlr-cuda-venv: torch==2.14.1, the CUDA 13.0 wheel
#                                        # on disk, ~5.5 GB), BUILD (default build-cuda/), MAX_JOBS (default 2)
#
# About 15 minutes on a 2-core machine (the build ~12), plus the venv's install the first time. The package's
# own library (torch_local_rnn/libtorch_local_rnn.so, the CPU build) is left alone: the tests run on a copy
# of the package in $BUILD/pkg.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${VENV:-/tmp/tlr-cuda-venv}"
BUILD="$(realpath -m "${BUILD:-build-cuda}")"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}" TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ] || ! "$PY" -c "import torch; assert torch.version.cuda" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q torch==2.14.1 numpy tqdm matplotlib pytest expecttest hypothesis cmake ninja
fi
"$VENV/bin/cmake" -S . -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
  -DCMAKE_PREFIX_PATH="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
  -DCMAKE_BUILD_TYPE=Release -DTLR_CUDA=ON -DTLR_CPU_AVX2_STEP=OFF >/dev/null
"$VENV/bin/cmake" --build "$BUILD" -j "${MAX_JOBS:-2}"
rm -rf "$BUILD/pkg" && mkdir -p "$BUILD/pkg" && cp -r torch_local_rnn "$BUILD/pkg/"
cp "$BUILD/libtorch_local_rnn.so" "$BUILD/pkg/torch_local_rnn/libtorch_local_rnn.so"
if ldd -r "$BUILD/pkg/torch_local_rnn/libtorch_local_rnn.so" 2>&1 | grep -E "undefined symbol|not found"; then
  echo "check_cuda_link: unresolved symbols (above)" >&2
  exit 1
fi
cd "$BUILD/pkg"  # `python -m` puts the working directory first on sys.path: this package, not the checkout's
PYTHONPATH="$PWD" "$PY" -c "
import torch, torch_local_rnn
assert torch_local_rnn.has_cuda_kernels(), 'the library was built without its CUDA kernels'
print('check_cuda_link: torch', torch.__version__, '| CUDA kernels built and loaded | GPU available:',
      torch.cuda.is_available())"
ctest --test-dir "$BUILD" --output-on-failure
PYTHONPATH="$PWD" TLR_CPP_TESTS="$BUILD/tlr_cpp_tests" "$PY" -m pytest -q "$ROOT/tests" -m "not slow" \
  -p no:cacheprovider --rootdir "$ROOT"
