#!/usr/bin/env bash
# Installs everything and runs every test: one build (CMake, driven by setup.py, into build-cmake/) of the
# op library and the GoogleTest binary, then ctest, then pytest. Extra arguments go to pytest
# (e.g. `bash scripts/test.sh -m "not slow"` for the fast tier).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ ! -f /usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ] && ! dpkg -s libgtest-dev >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq libgtest-dev cmake >/dev/null
fi
bash scripts/install.sh
ctest --test-dir build-cmake --output-on-failure
TLR_CPP_TESTS="$PWD/build-cmake/tlr_cpp_tests" "$PY" -m pytest -q tests "$@"
