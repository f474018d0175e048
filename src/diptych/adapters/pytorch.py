"""PyTorch side of the adapters: seeding, devices, NumPy interop, loading shared weights."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from diptych import initial, layouts
from diptych.adapters.contract import Installation
from diptych.adapters.idiom import Idiom, Target
from diptych.frameworks import PYTORCH
from diptych.optional import require
from diptych.seeding import seed_everything

torch = require("torch")

NAME = PYTORCH.name


def setup(seed: int = 0) -> str:
    """Seed everything, ask for deterministic kernels, turn TF32 off; describe the setup.

    TF32 (on by default for convolutions on Ampere-or-newer GPUs) rounds float32 inputs to 10
    mantissa bits, which would break parity with the NumPy reference; we ask for full float32.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    seed_everything(seed)
    deterministic_algorithms()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    return f"{NAME} {torch.__version__.split('+')[0]} on {device()}, seed {seed}"


def deterministic_algorithms() -> None:
    """What ``torch.use_deterministic_algorithms(True, warn_only=True)`` does, without its cost.

    That call imports TorchInductor (and TorchDynamo with it) only to set one flag, about 1.5 s
    in every kernel; no lesson before 08 compiles anything. Here the same two switches are set
    without the import: the eager flag (``set_deterministic_debug_mode("warn")`` is the warn-only
    mode), and Inductor's ``deterministic``, through the environment variable its config reads on
    import, or on the config itself when Inductor is already loaded."""
    torch.set_deterministic_debug_mode("warn")
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        setattr(inductor_config, "deterministic", True)  # noqa: B010 (a module typed as ModuleType)


def seed_framework(seed: int) -> None:
    """Seed PyTorch's generators: the CPU's and every CUDA device's."""
    torch.manual_seed(seed)


@contextmanager
def float64() -> Iterator[None]:
    """Inside, new modules and floating-point tensors are float64 (``torch.set_default_dtype``);
    the previous default after. Step-by-step parity runs are made in float64."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def device(*, float64: bool = False) -> Any:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    MPS has no float64, so a lesson computing in float64 passes ``float64=True`` to skip it.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if not float64 and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def from_numpy(array: np.ndarray, *, dtype: Any = None, on: Any = None) -> Any:
    """A tensor holding a copy of ``array`` (keeping its dtype unless ``dtype``) on ``on``."""
    tensor = torch.as_tensor(np.array(array, copy=True), dtype=dtype)
    return tensor.to(on if on is not None else device(float64=tensor.dtype == torch.float64))


def to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy of ``tensor``, detached from autograd and moved to the CPU.

    A copy, not a view: ``.numpy()`` of a CPU tensor shares its memory, so an in-place update of
    the tensor (``theta -= lr * grad``) would silently rewrite every array saved earlier.
    """
    return tensor.detach().cpu().numpy().copy()


def load_dense(layer: Any, weights: initial.Layer) -> None:
    """Copy shared dense weights ``{"W": (in, out), "b": (out,)}`` into an ``nn.Linear``."""
    expected = (layer.in_features, layer.out_features)
    if tuple(np.shape(weights["W"])) != expected:
        raise ValueError(
            f"cannot load dense weights of shape {tuple(np.shape(weights['W']))} (in, out) into "
            f"nn.Linear(in_features={expected[0]}, out_features={expected[1]}), which needs {expected}"
        )
    _copy(layer.weight, layouts.dense_to_out_in(weights["W"]), "weight")
    _copy(layer.bias, weights["b"], "bias")


def load_conv(layer: Any, weights: initial.Layer) -> None:
    """Copy shared conv weights ``{"W": OIHW, "b": (out,)}`` into an ``nn.Conv2d``."""
    _copy(layer.weight, weights["W"], "weight")
    _copy(layer.bias, weights["b"], "bias")


def _copy(parameter: Any, value: np.ndarray, what: str) -> None:
    if tuple(parameter.shape) != tuple(np.shape(value)):
        raise ValueError(
            f"cannot load a {what} of shape {tuple(np.shape(value))} into a parameter of shape "
            f"{tuple(parameter.shape)}"
        )
    with torch.no_grad():
        parameter.copy_(torch.as_tensor(np.asarray(value), dtype=parameter.dtype))


# --- what the exercise checks need to know about PyTorch (see diptych.adapters.idiom) ---------


def _autograd() -> list[Target]:
    return [
        (torch.Tensor, "backward", "Tensor.backward"),
        (torch.autograd, "backward", "torch.autograd.backward"),
        (torch.autograd, "grad", "torch.autograd.grad"),
        (torch.autograd.functional, "jacobian", "torch.autograd.functional.jacobian"),
        (torch.autograd.functional, "vjp", "torch.autograd.functional.vjp"),
        (torch.func, "grad", "torch.func.grad"),
        (torch.func, "vjp", "torch.func.vjp"),
        (torch.func, "jacrev", "torch.func.jacrev"),
    ]


def _convolution() -> list[Target]:
    functional = torch.nn.functional
    return [
        (functional, "conv2d", "torch.nn.functional.conv2d (or nn.Conv2d)"),
        (torch, "conv2d", "torch.conv2d"),
        (torch, "convolution", "torch.convolution"),
    ]


def _log_softmax() -> list[Target]:
    return [
        (torch, "log_softmax", "torch.log_softmax"),
        (torch.nn.functional, "log_softmax", "torch.nn.functional.log_softmax"),
        (torch.Tensor, "log_softmax", "Tensor.log_softmax"),
        (torch.special, "log_softmax", "torch.special.log_softmax"),
        (torch, "logsumexp", "torch.logsumexp"),
        (torch.Tensor, "logsumexp", "Tensor.logsumexp"),
        (torch.special, "logsumexp", "torch.special.logsumexp"),
    ]


def _dropout() -> list[Target]:
    return [
        (torch.nn.functional, "dropout", "torch.nn.functional.dropout (or nn.Dropout)"),
        (torch, "dropout", "torch.dropout"),
    ]


def _batch_norm() -> list[Target]:
    return [
        (torch.nn.functional, "batch_norm", "torch.nn.functional.batch_norm (or nn.BatchNorm2d)"),
        (torch, "batch_norm", "torch.batch_norm"),
    ]


def _mlp(sizes: list[int]) -> Any:
    modules: list[Any] = []
    for i in range(len(sizes) - 1):
        modules.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def _predict(model: Any, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(X)).detach().numpy().copy()


IDIOM = Idiom(
    framework=NAME,
    companions=__name__,
    momentum="pytorch",
    adam_epsilon="pytorch",
    warmup="pytorch",
    batch_norm_momentum="pytorch",
    training_mode="model",
    engine="ddp",
    weight_layout="pytorch",
    channels_last=False,
    one_graph="capture",
    autograd=_autograd,
    convolution=_convolution,
    log_softmax=_log_softmax,
    dropout=_dropout,
    batch_norm=_batch_norm,
    tensor_type=lambda: torch.Tensor,
    reduce_sum=lambda x, *axis: torch.sum(x, *axis),
    sin=lambda x: torch.sin(x),
    mlp=_mlp,
    dense_layers=lambda model: [m for m in model if hasattr(m, "weight")],
    predict=_predict,
    sgd=lambda model, lr: torch.optim.SGD(model.parameters(), lr=lr),
)


# --- thread pools, version, compiler: lessons 09 and 11, ``diptych bench`` and doctor ------


def set_threads(threads: int) -> int:
    """Set PyTorch's intra-op pool (and one inter-op thread) before its first parallel
    operation; returns the intra-op thread count now in force."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return int(torch.get_num_threads())


def version() -> str:
    """PyTorch's version without the build tag ("2.13.0", not "2.13.0+cpu")."""
    return str(torch.__version__).split("+")[0]


def installation() -> Installation:
    """PyTorch's version and build, and the devices it sees: the CPU, each CUDA device by name,
    Apple's MPS."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [
            f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())
        ]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return Installation(
        version=str(torch.__version__),
        devices=tuple(devices),
        built_for_cuda=torch.version.cuda is not None,
        sees_gpu=len(devices) > 1,
    )


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's default backend (Inductor) would use; None if there is
    none (Inductor then fails with ``InvalidCxxCompiler``). Asks Inductor itself."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return str(get_cpp_compiler())
    except Exception:  # InvalidCxxCompiler, or a PyTorch that moved the function
        return None
