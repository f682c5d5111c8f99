"""Every registered model: builds, learns, and round-trips `model.keras`.

Parametrized over the registry, so a new model is tested the day it lands.
"""

import dataclasses

import keras
import numpy as np
import pytest

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.errors import ConfigError

SHAPES = {"dense": (6, 6, 1), "conv": (6, 6, 1)}


def small_config(name, arch="dense"):
    return ModelConfig(
        name=name, arch=arch, hidden_units=(16,) if arch == "conv" else
        (32,), latent_dim=4, reconstruction_loss="bce",
        output_activation="sigmoid", input_shape=SHAPES[arch],
        num_classes=3, noise_level=0.1)


def structured_data(n=96, seed=0):
    """Images on a 2-D manifold: blobs whose position varies."""
    rng = np.random.default_rng(seed)
    grid = np.arange(6)
    images = []
    for _ in range(n):
        cy, cx = rng.uniform(1, 4, size=2)
        blob = np.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2)
                      / 2.0)
        images.append(blob)
    x = np.asarray(images, "float32")[..., None]
    y = rng.integers(0, 3, size=n)
    return x, y


def fit_inputs(model, x, y):
    return (x, y) if model.uses_labels else (x,)


@pytest.mark.parametrize("arch", ["dense", "conv"])
@pytest.mark.parametrize("name", models.MODELS.names())
def test_model_learns_and_round_trips(name, arch, tmp_path):
    keras.utils.set_random_seed(1)
    model = models.build(small_config(name, arch))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = structured_data()
    data = fit_inputs(model, x, y)
    before = model.evaluate(*data, batch_size=32, verbose=0,
                            return_dict=True)
    model.fit(*data, epochs=15, batch_size=32, verbose=0)
    after = model.evaluate(*data, batch_size=32, verbose=0, return_dict=True)
    # A GAN has no reconstruction; it names the metric that shows progress.
    key = getattr(model, "progress_metric", None) or (
        "reconstruction" if "reconstruction" in after else "loss")
    assert np.isfinite(after[key])
    assert after[key] < 0.97 * before[key], (before, after)

    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.config == model.config
    np.testing.assert_allclose(restored(x[:8]), model(x[:8]), atol=1e-6)


@pytest.mark.parametrize("name", models.MODELS.names())
def test_call_is_deterministic(name):
    model = models.build(small_config(name))
    x, _ = structured_data(8)
    np.testing.assert_array_equal(model(x), model(x))


def test_unknown_model_lists_known_names():
    with pytest.raises(ConfigError, match="choose one of: .*vae"):
        models.build(dataclasses.replace(small_config("ae"), name="vea"))


def test_conv_on_tabular_data_is_refused():
    config = dataclasses.replace(
        small_config("ae", "conv"), input_shape=(12,))
    with pytest.raises(ConfigError, match="--arch=conv needs images"):
        models.build(config)


def test_conv_decoder_crops_odd_sizes():
    config = dataclasses.replace(
        small_config("ae", "conv"), input_shape=(7, 5, 3),
        hidden_units=(4, 8))
    model = models.build(config)
    x = np.random.default_rng(0).uniform(size=(2, 7, 5, 3)).astype("float32")
    assert tuple(model(x).shape) == (2, 7, 5, 3)


def test_vae_encoder_gives_mean_and_log_variance():
    model = models.build(small_config("vae"))
    x, _ = structured_data(5)
    mean, log_var = model.encode_distribution(x)
    assert tuple(mean.shape) == (5, 4) and tuple(log_var.shape) == (5, 4)
    np.testing.assert_allclose(model.encode(x), mean, atol=1e-6)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_pepper"])
def test_denoising_corrupts_in_training_only(kind):
    config = dataclasses.replace(
        small_config("dae"), noise=kind, noise_level=0.5)
    model = models.build(config)
    x = np.full((4, 6, 6, 1), 0.5, "float32")
    noisy = np.asarray(model.corrupt_input(x, training=True))
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert np.mean(noisy != x) > 0.2
    np.testing.assert_array_equal(model.corrupt_input(x, training=False), x)
    if kind == "masking":
        assert set(np.unique(noisy)) <= {0.0, 0.5}
    if kind == "salt_pepper":
        assert set(np.unique(noisy)) == {0.0, 0.5, 1.0}
