#!/usr/bin/env bash
# Regenerate requirements/cpu.txt, the lock that pins every package of a CPU install.
# --universal: one file for every Python >= 3.10 and platform (environment markers pick the pins).
# --no-emit-package: PyPI's torch wheel for Linux lists CUDA libraries; a CPU install never needs
# them (the CPU wheel does not ask for them), so the lock leaves them out.
set -euo pipefail
cd "$(dirname "$0")"
cuda=(cuda-bindings cuda-pathfinder cuda-toolkit nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
      nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
      nvidia-cusparse nvidia-cusparselt-cu13 nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
      nvidia-nvtx triton)
uvx_args=()
for package in "${cuda[@]}"; do uvx_args+=(--no-emit-package "$package"); done
uv pip compile --quiet --universal --python-version 3.10 "${uvx_args[@]}" cpu.in -o cpu.txt
