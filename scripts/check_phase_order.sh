#!/usr/bin/env bash
# Phase-order check of the shared steps (docs/design.md §1.4), for machines without a GPU: builds the op library
# with TLR_REVERSE_PHASE_ORDER (the CPU policy runs every phase's elements in reverse order) into its own folder,
# build-reverse/, and runs the rule tests with that library loaded (TLR_LIBRARY). The GPU runs a phase's elements
# at once, so a step that reads, within one phase, what another element of that phase writes (a missing
# Exec::sync()) is a race there; reversed, it changes the numbers here and the float64 tests against the
# references fail. Passing is necessary, not sufficient: it cannot see a race between two orders that agree.
#
#   bash scripts/check_phase_order.sh                 # build, then the default subset
#   bash scripts/check_phase_order.sh tests/rules -k rtrl
#
# Environment: PYTHON (default python), JOBS (build jobs, default 2), TLR_REVERSE_BUILD (default build-reverse).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BUILD=${TLR_REVERSE_BUILD:-build-reverse}
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_PREFIX_PATH="$PREFIX" -DTLR_REVERSE_PHASE_ORDER=ON \
  -DTLR_BUILD_TESTS=OFF -DTLR_CUDA=OFF >/dev/null
cmake --build "$BUILD" -j "${JOBS:-2}"
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(tests/rules tests/modules/test_online.py tests/cpp/test_cpp_parity.py -m "not slow")
fi
TLR_LIBRARY="$PWD/$BUILD/libtorch_local_rnn.so" "$PY" -m pytest -q "${args[@]}"
