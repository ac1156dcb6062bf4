"""Loads the compiled op library, libtorch_local_rnn.so (built by CMake through setup.py). A failed load
raises the real error with hints, never a later "operator torch_local_rnn::... does not exist"
(docs/design.md §2.4)."""
import os

import torch

LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libtorch_local_rnn.so")
# TLR_LIBRARY=/path/to/libtorch_local_rnn.so loads another build instead (scripts/sanitize.sh: build-asan/'s).
OVERRIDE = "TLR_LIBRARY"


def library_path() -> str:
    return os.environ.get(OVERRIDE) or LIBRARY


def load():
    path = library_path()
    if path != LIBRARY and not os.path.isfile(path):
        raise ImportError(f"torch_local_rnn: {OVERRIDE}={path} is not a file")
    try:
        torch.ops.load_library(path)  # runs the library's TORCH_LIBRARY initialisers
    except OSError as error:
        raise ImportError(
            f"torch_local_rnn: could not load its compiled ops from {path} ({error}). The library must be "
            f"built against the installed torch {torch.__version__}: reinstall with "
            "`pip install --no-build-isolation -e .` from the repository root."
        ) from error
    built = torch.ops.torch_local_rnn.cuda_version()
    if built != -1 and torch.version.cuda is not None:
        major = built // 1000
        torch_major = int(torch.version.cuda.split(".")[0])
        if major != torch_major:
            raise ImportError(
                f"torch_local_rnn was built with CUDA {built // 1000}.{built % 1000 // 10} but torch uses "
                f"CUDA {torch.version.cuda}; rebuild with `pip install --no-build-isolation -e .`"
            )


def has_cuda_kernels() -> bool:
    return torch.ops.torch_local_rnn.cuda_version() != -1
