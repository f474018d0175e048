#!/usr/bin/env bash
# Regenerate the locks: requirements/cpu.txt (every platform, CPU builds) and requirements/gpu.txt
# (Linux x86-64 with CUDA). Then run `make lock-check`: it asks uv, for each supported platform and
# Python version, whether every pinned package has a wheel there.
# --universal: one file for every Python >= 3.10 and platform (environment markers pick the pins;
# --python-version 3.10 is the lowest Python the README promises, so pins that need a newer Python
# get a python_full_version marker and an older pin beside them).
# --no-emit-package (cpu.txt only): PyPI's torch wheel for Linux lists CUDA libraries; a CPU install
# never needs them (on Linux the Makefile installs torch from PyTorch's CPU index first, see
# torch-cpu.txt, and that wheel does not ask for them), so the CPU lock leaves them out.
set -euo pipefail
cd "$(dirname "$0")"
cuda=(cuda-bindings cuda-pathfinder cuda-toolkit nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
      nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
      nvidia-cusparse nvidia-cusparselt-cu13 nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
      nvidia-nvtx triton)
uvx_args=()
for package in "${cuda[@]}"; do uvx_args+=(--no-emit-package "$package"); done
uv pip compile --quiet --universal --python-version 3.10 "${uvx_args[@]}" cpu.in -o cpu.txt
uv pip compile --quiet --universal --python-version 3.10 gpu.in -o gpu.txt
