"""Both adapters offer the same functions and behave alike; each loads shared weights exactly."""

import os
import subprocess
import sys

import numpy as np
import pytest

from diptych import initial

pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
torch = pytorch.torch
tf = tensorflow.tf

PUBLIC = {"setup", "device", "from_numpy", "to_numpy", "load_dense", "load_conv", "float64"}


def test_both_adapters_offer_the_same_functions():
    for adapter in (pytorch, tensorflow):
        assert set(dir(adapter)) >= PUBLIC


@pytest.mark.parametrize("adapter", [pytorch, tensorflow], ids=["pytorch", "tensorflow"])
def test_setup_describes_framework_device_and_seed(adapter):
    description = adapter.setup(seed=7)
    assert adapter.NAME in description and "seed 7" in description


@pytest.mark.parametrize("adapter", [pytorch, tensorflow], ids=["pytorch", "tensorflow"])
def test_numpy_round_trip_keeps_dtype_and_copies(adapter):
    array = np.arange(6.0).reshape(2, 3)
    tensor = adapter.from_numpy(array)
    array[0, 0] = 99.0  # the tensor holds a copy
    back = adapter.to_numpy(tensor)
    assert back.dtype == np.float64 and back[0, 0] == 0.0
    np.testing.assert_array_equal(back[1], [3.0, 4.0, 5.0])


def test_torch_to_numpy_is_not_a_view_of_the_tensor():
    tensor = torch.zeros(2)
    saved = pytorch.to_numpy(tensor)
    tensor += 1  # an in-place update must not rewrite what was saved
    np.testing.assert_array_equal(saved, [0.0, 0.0])


def test_setup_makes_random_numbers_repeatable():
    pytorch.setup(seed=3)
    first = torch.rand(3)
    pytorch.setup(seed=3)
    assert torch.equal(first, torch.rand(3))
    tensorflow.setup(seed=3)
    first_tf = tf.random.uniform((3,))
    tensorflow.setup(seed=3)
    np.testing.assert_array_equal(first_tf, tf.random.uniform((3,)))


def test_shared_dense_weights_give_identical_outputs_in_both_frameworks():
    import keras

    weights = initial.dense(4, 3, seed=0)
    weights["b"] = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    linear = torch.nn.Linear(4, 3)
    pytorch.load_dense(linear, weights)
    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    tensorflow.load_dense(dense, weights)
    expected = x @ weights["W"] + weights["b"]
    np.testing.assert_allclose(pytorch.to_numpy(linear(torch.from_numpy(x))), expected, atol=1e-6)
    np.testing.assert_allclose(dense(x).numpy(), expected, atol=1e-6)


def test_shared_conv_weights_give_identical_outputs_in_both_frameworks():
    import keras

    weights = initial.conv2d(2, 3, 3, seed=0)
    images = np.random.default_rng(1).standard_normal((1, 2, 6, 6)).astype(np.float32)  # NCHW
    conv = torch.nn.Conv2d(2, 3, 3)
    pytorch.load_conv(conv, weights)
    conv2d = keras.layers.Conv2D(3, 3)
    conv2d.build((None, 6, 6, 2))
    tensorflow.load_conv(conv2d, weights)
    out_torch = pytorch.to_numpy(conv(torch.from_numpy(images)))  # (1, 3, 4, 4)
    out_keras = conv2d(images.transpose(0, 2, 3, 1)).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out_torch, out_keras, atol=1e-5)


def test_loading_weights_of_the_wrong_shape_says_which_shapes():
    import keras

    with pytest.raises(ValueError, match=r"shape \(4, 3\).*needs \(4, 2\)"):
        pytorch.load_dense(torch.nn.Linear(4, 2), initial.dense(4, 3))
    dense = keras.layers.Dense(2)
    dense.build((None, 4))
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        tensorflow.load_dense(dense, initial.dense(4, 3))


def test_loading_into_an_unbuilt_keras_layer_explains_what_to_do():
    import keras

    with pytest.raises(ValueError, match="not built yet"):
        tensorflow.load_dense(keras.layers.Dense(2), initial.dense(4, 2))


def test_keras_float64_makes_layers_and_hyper_parameters_float64_after_a_float32_layer():
    """The trap it exists for: a layer built earlier fixes Keras' dtype policy at float32."""
    keras = pytest.importorskip("keras")
    keras.layers.Dense(2).build(
        (None, 3)
    )  # fixes the global policy, as a lesson's first layer does
    with tensorflow.float64():
        layer = keras.layers.Dense(2)
        layer.build((None, 3))
        optimizer = keras.optimizers.SGD(learning_rate=0.05)
    assert layer.kernel.dtype == "float64" and layer.compute_dtype == "float64"
    assert optimizer.learning_rate.dtype == "float64" and float(optimizer.learning_rate) == 0.05
    after = keras.layers.Dense(2)
    after.build((None, 3))
    assert after.kernel.dtype == "float32" and keras.config.floatx() == "float32"


def test_torch_float64_sets_and_restores_the_default_dtype():
    with pytorch.float64():
        assert torch.nn.Linear(3, 2).weight.dtype == torch.float64
    assert torch.nn.Linear(3, 2).weight.dtype == torch.float32


@pytest.mark.parametrize("adapter", [pytorch, tensorflow], ids=["pytorch", "tensorflow"])
def test_float64_restores_the_default_after_an_error(adapter):
    with pytest.raises(RuntimeError), adapter.float64():
        raise RuntimeError("a cell failed")
    if adapter is pytorch:
        assert torch.get_default_dtype() == torch.float32
    else:
        import keras

        assert keras.config.floatx() == "float32"


@pytest.mark.parametrize("inductor_first", [False, True], ids=["inductor-later", "inductor-first"])
def test_pytorch_setup_asks_for_deterministic_algorithms_eager_and_compiled(inductor_first):
    """setup sets what torch.use_deterministic_algorithms(True, warn_only=True) sets (the eager
    flag, warn-only, and Inductor's flag) without importing Inductor itself; the flag holds
    whether Inductor is imported before setup or after it. Each case in a fresh interpreter."""
    code = f"""
import sys, torch
{"import torch._inductor.config" if inductor_first else ""}
torch.set_deterministic_debug_mode("default")
from diptych.adapters import pytorch
pytorch.setup(seed=0)
imported_by_setup = "torch._inductor" in sys.modules and not {inductor_first}
import torch._inductor.config as inductor_config
print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
      inductor_config.deterministic, imported_by_setup)
"""
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_DETERMINISTIC"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "False"]
