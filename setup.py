"""Builds libtorch_local_rnn.so, the op library, with CMake against the torch already installed.

Always install with ``pip install --no-build-isolation -e .`` so the build uses that torch. The build
runs CMakeLists.txt in build-cmake/ (kept between builds, so a rebuild compiles only what changed) and
copies the library into the package; the GoogleTest binary comes out of the same build when GoogleTest
is installed, so ctest and pytest test the very library Python loads (docs/design.md §2).
Environment switches (printed at build time):
  TLR_FORCE_CUDA=1   build the CUDA kernels, fail if that is impossible (CMake TLR_CUDA=ON)
  TLR_FORCE_CPU=1    never build the CUDA kernels (TLR_CUDA=OFF)
  TLR_DEBUG=1        -O0 -g (CMAKE_BUILD_TYPE=Debug)
  TLR_NO_AVX2_STEP=1 leave out the CPU online step's AVX2 copy (CMake TLR_CPU_AVX2_STEP=OFF): the same results,
                     a much shorter CPU compile; ops.online_step_isa() says "baseline-only" (scripts/gpu_check.sh)
  TLR_BUILD_DIR      the CMake build folder (default build-cmake)
  TORCH_CUDA_ARCH_LIST  CUDA targets, e.g. "9.0" or "8.0;9.0" (default 9.0: H100/H200)
  MAX_JOBS           parallel compile jobs (default 2)
"""
import os
import shutil
import subprocess
import sys

import torch
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
LIBRARY = "libtorch_local_rnn.so"


def flag(name):
    return os.environ.get(name, "0") == "1"


def tool(name):
    """The environment's own cmake/ninja (pip's, beside this Python, even when not on PATH), else PATH's."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.access(here, os.X_OK) else shutil.which(name)


def cmake_args():
    # TORCH_CUDA_ARCH_LIST needs no argument: torch's CMake config reads it from the environment.
    cuda = "OFF" if flag("TLR_FORCE_CPU") else "ON" if flag("TLR_FORCE_CUDA") else "AUTO"
    return [f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DCMAKE_BUILD_TYPE={'Debug' if flag('TLR_DEBUG') else 'Release'}",
            f"-DTLR_CUDA={cuda}", f"-DTLR_CPU_AVX2_STEP={'OFF' if flag('TLR_NO_AVX2_STEP') else 'ON'}",
            f"-DPython_EXECUTABLE={sys.executable}",
            # ptxas threads per CUDA file (CMakeLists.txt); unset: CMake's default by the core count
            *([f"-DTLR_PTXAS_THREADS={os.environ['TLR_PTXAS_THREADS']}"] if "TLR_PTXAS_THREADS" in os.environ else [])]


class CMakeBuild(build_ext):
    """Runs the CMake build and puts libtorch_local_rnn.so where the package loads it from."""

    def get_ext_filename(self, fullname):
        return os.path.join(*fullname.split(".")[:-1], LIBRARY)

    def build_extension(self, ext):
        build_dir = os.environ.get("TLR_BUILD_DIR", os.path.join(ROOT, "build-cmake"))
        cmake, ninja = tool("cmake"), tool("ninja")
        if cmake is None:
            raise RuntimeError("torch_local_rnn: the build needs CMake >= 3.18 (pip install cmake)")
        configure = [cmake, "-S", ROOT, "-B", build_dir] + cmake_args()
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")) and ninja:
            configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
        print("torch_local_rnn build:", " ".join(configure), flush=True)
        subprocess.check_call(configure)
        subprocess.check_call([cmake, "--build", build_dir, "-j", os.environ.get("MAX_JOBS", "2")])
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Copy beside the target, then rename: a process that has the old library loaded keeps its file
        # (overwriting a mapped .so in place crashes it).
        staging = target + ".new"
        shutil.copy2(os.path.join(build_dir, LIBRARY), staging)
        os.replace(staging, target)


setup(
    name="torch-local-rnn",
    version="0.1.0",
    description="Local, online learning rules for recurrent networks as PyTorch C++/CUDA ops",
    packages=find_packages(include=["torch_local_rnn", "torch_local_rnn.*"]),
    ext_modules=[Extension("torch_local_rnn.libtorch_local_rnn", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy", "tqdm", "matplotlib"],
    # Optional, for compare and the example grids: --backend ray (runs as Ray tasks) and --tensorboard DIR.
    extras_require={"ray": ["ray"], "tensorboard": ["tensorboard"]},
)
