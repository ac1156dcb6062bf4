#!/usr/bin/env bash
# Installs everything torch-local-rnn needs on a fresh machine and builds it in place (CMake into
# build-cmake/, the library copied into the package; the GoogleTest binary too when GoogleTest is installed).
# torch comes from the local wheel (torch==2.13.0, CPU) unless a torch is already installed;
# the build uses that torch (--no-build-isolation), never one fetched by pip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
# ray and tensorboard are optional for the package (its extras [ray] and [tensorboard]); the tests of
# compare --backend ray and --tensorboard need them.
"$PY" -m pip install -q numpy tqdm matplotlib pytest expecttest hypothesis ninja ray tensorboard
command -v cmake >/dev/null || "$PY" -m pip install -q cmake  # the build is CMake, driven by setup.py
"$PY" -m pip install -q --no-build-isolation -e .
"$PY" -c "import torch, torch_local_rnn; print('torch', torch.__version__, '| torch_local_rnn', torch_local_rnn.__version__, '| CUDA kernels:', torch_local_rnn.has_cuda_kernels())"
