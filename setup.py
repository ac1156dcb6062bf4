"""Builds torch_local_rnn._C, the op library, against the torch already installed.

Always install with ``pip install --no-build-isolation -e .`` so the build uses that torch.
Environment switches (printed at build time):
  TLR_FORCE_CUDA=1   build the CUDA kernels even if the rule below says no
  TLR_FORCE_CPU=1    never build the CUDA kernels
  TLR_DEBUG=1        -O0 -g
  TORCH_CUDA_ARCH_LIST  CUDA targets when no GPU is visible (default 9.0: H100/H200)
  MAX_JOBS           parallel compile jobs (default 2)
CUDA is built iff nvcc is found and torch is a CUDA build (engineering.md §2.3).
"""
import glob
import os

import torch
from setuptools import find_packages, setup
from torch.utils import cpp_extension

ROOT = os.path.dirname(os.path.abspath(__file__))


def flag(name):
    return os.environ.get(name, "0") == "1"


def use_cuda():
    if flag("TLR_FORCE_CPU"):
        return False
    if flag("TLR_FORCE_CUDA"):
        return True
    return cpp_extension.CUDA_HOME is not None and torch.version.cuda is not None


def sources(with_cuda):
    patterns = ["csrc/*.cpp", "csrc/common/*.cpp", "csrc/cpu/*.cpp", "csrc/autograd/*.cpp"]
    if with_cuda:
        patterns.append("csrc/cuda/*.cu")
    return sorted(f for p in patterns for f in glob.glob(os.path.join(ROOT, p)))


def extension():
    with_cuda = use_cuda()
    debug = flag("TLR_DEBUG")
    openmp = "OpenMP" in torch.__config__.parallel_info()
    cxx = ["-O0", "-g"] if debug else ["-O3"]
    # No -std here: cpp_extension adds the standard its headers need (C++20; torch 2.14 requires it).
    cxx += ["-Wno-sign-compare"]
    if openmp:  # at::parallel_for runs serially unless our own TUs are built with OpenMP
        cxx += ["-fopenmp", "-DAT_PARALLEL_OPENMP"]
    macros = [("WITH_PYTHON", None)]
    kwargs = dict(extra_compile_args={"cxx": cxx}, extra_link_args=["-fopenmp"] if openmp else [])
    if with_cuda:
        if not torch.cuda.is_available():
            os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "9.0")
        macros.append(("WITH_CUDA", None))
        kwargs["extra_compile_args"]["nvcc"] = (["-O0", "-g"] if debug else ["-O3"]) + [
            "--threads", "2", "-lineinfo", "-DWITH_CUDA", "--expt-relaxed-constexpr"]
    os.environ.setdefault("MAX_JOBS", "2")
    print(f"torch_local_rnn build: torch {torch.__version__}, cuda={with_cuda}, openmp={openmp}, "
          f"debug={debug}, arch={os.environ.get('TORCH_CUDA_ARCH_LIST', 'auto')}")
    cls = cpp_extension.CUDAExtension if with_cuda else cpp_extension.CppExtension
    return cls("torch_local_rnn._C", sources(with_cuda), define_macros=macros,
               include_dirs=[os.path.join(ROOT, "csrc")], **kwargs)


setup(
    name="torch-local-rnn",
    version="0.1.0",
    description="Local, online learning rules for recurrent networks as PyTorch C++/CUDA ops",
    packages=find_packages(include=["torch_local_rnn", "torch_local_rnn.*"]),
    ext_modules=[extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension},
    python_requires=">=3.9",
    install_requires=["numpy", "tqdm", "matplotlib"],
)
