"""bfloat16 matmul precision: what `auto` picks, what the layers compute,
and that training in it saves and evaluates a float32 model."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sample_data import blob_images

from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.models import matmul
from kerasae.training import precision


@pytest.mark.parametrize("flags, gpu, expected", [
    ({"avx512f", "avx512_bf16"}, False, "bfloat16"),
    ({"amx_bf16", "amx_tile"}, False, "bfloat16"),
    ({"avx512f", "avx2"}, False, "float32"),
    ({"avx512_bf16"}, True, "float32"),
    (set(), False, "float32"),
])
def test_auto_picks_bfloat16_only_on_a_bf16_cpu_without_gpu(
        flags, gpu, expected):
    assert precision.resolve("auto", flags=flags, gpu=gpu,
                             max_isa="") == expected


def test_auto_is_float32_when_onednn_is_capped_below_bfloat16(monkeypatch):
    bf16 = {"avx512f", "avx512_bf16"}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert precision.resolve("auto", flags=bf16, gpu=False) == "float32"
    assert precision.resolve("bfloat16", flags=bf16, gpu=False) == \
        "bfloat16"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert precision.resolve("auto", flags=bf16, gpu=False) == "bfloat16"


def test_explicit_choices_are_kept_and_others_refused():
    for choice in ("float32", "bfloat16"):
        assert precision.resolve(choice, flags=set(), gpu=True) == choice
    with pytest.raises(ConfigError, match="--matmul_precision='half'"):
        precision.resolve("half")


def test_cpu_flags_reads_the_flags_line(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("model name\t: X\nflags\t\t: fpu avx512_bf16 sse\n")
    assert precision.cpu_flags(str(path)) == {"fpu", "avx512_bf16", "sse"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()


def layer_pair(make, shape):
    """The same layer in float32 and bfloat16 precision, equal weights."""
    with matmul.matmul_precision("float32"):
        full = make()
    with matmul.matmul_precision("bfloat16"):
        low = make()
    full.build(shape)
    low.build(shape)
    low.set_weights(full.get_weights())
    return full, low


@pytest.mark.parametrize("make, shape", [
    (lambda: matmul.dense(24, activation="relu"), (16, 40)),
    (lambda: matmul.conv2d(6, 3, strides=2, padding="same"),
     (4, 8, 8, 3)),
    (lambda: matmul.conv2d_transpose(5, 3, strides=2, padding="same",
                                        activation="relu"), (4, 4, 4, 3)),
])
def test_bfloat16_layers_round_only_the_matmul_inputs(make, shape):
    keras.utils.set_random_seed(0)
    full, low = layer_pair(make, shape)
    assert type(low) is not type(full) and isinstance(low, type(full))
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    # Nonzero biases, so adding them in float32 is part of the check.
    weights = full.get_weights()
    weights[1] = np.linspace(-1, 1, weights[1].size).astype("float32")
    full.set_weights(weights)
    low.set_weights(weights)
    want, got = np.asarray(full(x)), low(x)
    assert got.dtype == "float32"
    assert all(w.dtype == "float32" for w in low.weights)
    error = np.abs(np.asarray(got) - want).max() / np.abs(want).max()
    # bfloat16 keeps 8 significant bits: errors of ~2^-9 relative, so the
    # outputs differ (the rounding happens) but only at that level.
    assert 1e-5 < error < 2e-2, error

    @tf.function
    def run(x):
        return low(x)

    graph = run.get_concrete_function(
        tf.TensorSpec(shape, tf.float32)).graph
    low_ops = {op.type for op in graph.get_operations()
               if any(t.dtype == tf.bfloat16 for t in op.outputs)}
    assert low_ops & {"MatMul", "Conv2D", "Conv2DBackpropInput"}, low_ops


def test_layers_outside_a_scope_are_stock_keras():
    assert type(matmul.dense(3)) is keras.layers.Dense
    with matmul.matmul_precision("bfloat16"):
        assert type(matmul.dense(3)) is matmul.BF16Dense
    assert matmul.current() == "float32"


@pytest.mark.parametrize("arch", ["dense", "conv"])
@pytest.mark.parametrize("name", models.MODELS.names())
def test_every_model_trains_in_bfloat16(name, arch):
    config = ModelConfig(
        name=name, arch=arch, hidden_units=(8,) if arch == "conv" else (16,),
        latent_dim=2, reconstruction_loss="bce", output_activation="sigmoid",
        input_shape=(8, 8, 1), num_classes=2, discriminator_units=(8,))
    keras.utils.set_random_seed(0)
    with matmul.matmul_precision("bfloat16"):
        model = models.build(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = blob_images(64)
    data = (x, y) if model.uses_labels else (x,)
    history = model.fit(*data, epochs=2, batch_size=32, verbose=0).history
    for values in history.values():
        assert np.all(np.isfinite(values))
    low = [layer for layer in model._flatten_layers()
           if isinstance(layer, (matmul.BF16Dense, matmul.BF16Conv2D,
                                 matmul.BF16Conv2DTranspose))]
    assert low
    assert all(v.dtype == "float32" for v in model.weights)


def test_training_in_bfloat16_saves_and_evaluates_float32(tmp_path):
    x, y = blob_images(200)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x, y=y)

    def run(choice):
        config = Config(
            model=ModelConfig(name="vae", hidden_units=(32,), latent_dim=2),
            data=DataConfig(dataset=str(path)),
            train=TrainConfig(epochs=3, batch_size=32,
                              matmul_precision=choice))
        workdir = str(tmp_path / choice)
        return workdir, training.train(config, workdir, verbose=0)

    low_dir, low = run("bfloat16")
    full_dir, full = run("float32")
    assert low["matmul_precision"] == "bfloat16"
    assert full["matmul_precision"] == "float32"
    _, model, _ = training.load_run(low_dir)
    kinds = {type(layer) for layer in model._flatten_layers()}
    assert keras.layers.Dense in kinds
    assert not kinds & {matmul.BF16Dense}
    # Same seed and data: the two trainings end close, but not equal.
    a, b = low["validation"]["neg_elbo"], full["validation"]["neg_elbo"]
    assert a != b and abs(a - b) < 0.05 * abs(b), (a, b)


@pytest.mark.parametrize("name", ["vae", "aae"])
def test_float32_copy_carries_weights_and_optimizer_state(name):
    config = Config(
        model=ModelConfig(name=name, hidden_units=(16,), latent_dim=2,
                          reconstruction_loss="bce",
                          output_activation="sigmoid", input_shape=(8, 8, 1),
                          discriminator_units=(8,)),
        train=TrainConfig(steps_per_execution=1))
    keras.utils.set_random_seed(0)
    model = training.build_for_training(config, "bfloat16")
    x, _ = blob_images(64)
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    copy = training.float32_copy(model, config)
    assert not any(isinstance(layer, matmul.BF16Dense)
                   for layer in copy._flatten_layers())
    for a, b in zip(copy.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    pairs = [(getattr(copy, role), getattr(model, role))
             for role in model.optimizer_roles]
    assert len(pairs) == (3 if name == "aae" else 1)
    for target, source in pairs:
        assert int(target.iterations) == int(source.iterations) == 2
        assert len(target.variables) == len(source.variables)
        for a, b in zip(target.variables, source.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
