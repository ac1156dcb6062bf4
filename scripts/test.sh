#!/usr/bin/env bash
# Installs everything and runs every test: the GoogleTest binary through ctest, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
bash scripts/install.sh
if [ ! -f /usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ] && ! dpkg -s libgtest-dev >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq libgtest-dev cmake >/dev/null
fi
command -v cmake >/dev/null || "$PY" -m pip install -q cmake
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B build-cmake "${GEN[@]}" -DCMAKE_PREFIX_PATH="$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')" >/dev/null
cmake --build build-cmake -j2
ctest --test-dir build-cmake --output-on-failure
TLR_CPP_TESTS="$PWD/build-cmake/tlr_cpp_tests" "$PY" -m pytest -q tests
