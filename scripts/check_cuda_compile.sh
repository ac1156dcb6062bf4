#!/usr/bin/env bash
# Compile-only check of the CUDA sources, for machines with nvcc but no GPU and the CPU build
# of torch (our dev and CI machines, docs/design.md §0.7, §2.3). Every csrc/**/*.cu is compiled
# with `nvcc -c` against the installed torch's headers; nothing is linked, so a CPU torch
# (which has ATen/cuda and c10/cuda headers but no libtorch_cuda) is enough. Each kernels/*.cuh
# is also compiled on its own, which proves it is self-contained and framework-free.
# One line per file; exits non-zero if any file fails, after printing that file's errors.
# With arguments (paths under csrc/), only those files are compiled.
#
# Env: NVCC (default $CUDA_HOME/bin/nvcc or nvcc on PATH), PYTHON (default python3),
#      JOBS (parallel nvcc processes, default and max 2), ARCH (default 90),
#      STD (default c++17; c++20 for torch >= 2.14, whose headers need it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
export CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
NVCC="${NVCC:-$( [ -x "$CUDA_HOME/bin/nvcc" ] && echo "$CUDA_HOME/bin/nvcc" || command -v nvcc || true)}"
JOBS="${JOBS:-2}"; (( JOBS > 2 )) && JOBS=2
ARCH="${ARCH:-90}"
[ -n "$NVCC" ] || { echo "check_cuda_compile: nvcc not found (set NVCC or CUDA_HOME)" >&2; exit 2; }

# torch's include dirs and C++ ABI, from the torch that would build the extension.
mapfile -t TORCH_INFO < <("$PYTHON" - <<'PY'
import torch
from torch.utils.cpp_extension import include_paths
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
print(torch.__version__)
major, minor = (int(v) for v in torch.__version__.split(".")[:2])
print("c++20" if (major, minor) >= (2, 14) else "c++17")
for p in include_paths():
    print(p)
PY
)
ABI="${TORCH_INFO[0]}"
STD="${STD:-${TORCH_INFO[2]}}"
echo "check_cuda_compile: $("$NVCC" --version | tail -1), torch ${TORCH_INFO[1]}, $STD, sm_$ARCH, $JOBS jobs"

FLAGS=(-c -std="$STD" -O1 -gencode "arch=compute_${ARCH},code=sm_${ARCH}" --expt-relaxed-constexpr
       -DWITH_CUDA -D_GLIBCXX_USE_CXX11_ABI="$ABI" -DTORCH_API_INCLUDE_EXTENSION_H
       -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__
       -D__CUDA_NO_HALF2_OPERATORS__ -Xcompiler -fPIC -I csrc)
for p in "${TORCH_INFO[@]:3}"; do FLAGS+=(-isystem "$p"); done
# A CPU torch ships c10/cuda headers but not the configure-generated cuda_cmake_macros.h
# (it only sets Windows export macros), so tell c10 to skip it when it is absent.
TORCH_INCLUDE="${TORCH_INFO[3]}"
[ -f "$TORCH_INCLUDE/c10/cuda/impl/cuda_cmake_macros.h" ] || FLAGS+=(-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export NVCC WORK
export FLAGS_STR="$(printf '%q ' "${FLAGS[@]}")"

# compile_one SOURCE: compiles a .cu, or a .cuh included alone from a generated .cu.
compile_one() {
  local src="$1" tag unit
  tag="$(echo "$src" | tr '/.' '__')"
  unit="$src"
  if [[ "$src" == *.cuh ]]; then
    unit="$WORK/$tag.cu"
    printf '#include "%s"\n' "${src#csrc/}" > "$unit"
  fi
  eval "FLAGS=($FLAGS_STR)"
  local start=$SECONDS
  if "$NVCC" "${FLAGS[@]}" "$unit" -o "$WORK/$tag.o" > "$WORK/$tag.log" 2>&1; then
    echo "ok    $src ($((SECONDS - start)) s)"
  else
    echo "FAIL  $src ($((SECONDS - start)) s)"
    touch "$WORK/$tag.failed"
  fi
}
export -f compile_one

if [ "$#" -gt 0 ]; then  # only the files named (a quick check of the files one is editing)
  SOURCES=("$@")
else
  mapfile -t SOURCES < <(find csrc -name '*.cu' | sort; find csrc/kernels csrc/rules -name '*.cuh' | sort)
fi
[ "${#SOURCES[@]}" -gt 0 ] || { echo "check_cuda_compile: no .cu files under csrc" >&2; exit 2; }

# The kernels must stay free of ATen/torch so they can be built without it.
if grep -nE '#include *[<"](ATen|c10|torch)/' csrc/kernels/*.cuh csrc/rules/*/*.cuh; then
  echo "check_cuda_compile: the .cuh kernels must not include ATen, c10 or torch headers (above)" >&2
  exit 1
fi

printf '%s\n' "${SOURCES[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$1"' _ {}

failed=0
for src in "${SOURCES[@]}"; do
  tag="$(echo "$src" | tr '/.' '__')"
  if [ -e "$WORK/$tag.failed" ]; then
    failed=$((failed + 1))
    echo "---- errors in $src:"
    grep -v -E 'warning #3306|bit-field|^\s*\^?\s*$|Wc\+\+20-extensions' "$WORK/$tag.log" | head -60 || true
  fi
done
echo "check_cuda_compile: ${#SOURCES[@]} files, $failed failed"
[ "$failed" -eq 0 ]
