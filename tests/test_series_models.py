"""Every registered model on series windows, with `conv1d` and `lstm`.

Parametrized over the registry: each model builds on windows `(steps,
features)`, learns a few epochs of a periodic signal (loss falls) and
round-trips `model.keras`. (The dense architecture flattens any window and
is tested on images and tables in `test_models.py`.)
"""

import dataclasses

import keras
import numpy as np
import pytest
import series_data

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.errors import ConfigError

WINDOW = 16


def window_config(name, arch):
    return ModelConfig(
        name=name, arch=arch, hidden_units=(8,), latent_dim=4,
        reconstruction_loss="mse", output_activation="linear",
        input_shape=(WINDOW, 2), data_range=(-3.0, 3.0), noise_level=0.1)


def windows(n=96):
    values, _ = series_data.make_series(n + WINDOW, seed=3)
    values = (values - values.mean(0)) / values.std(0)
    return np.stack([values[i:i + WINDOW] for i in range(n)]).astype(
        "float32")


# Every model with conv1d; the LSTM (slower: unrolled) with one plain and
# one variational model, which share the encoder/decoder code with the rest.
CASES = [(name, "conv1d") for name in models.MODELS.names()] + \
    [("ae", "lstm"), ("vae", "lstm")]


@pytest.mark.parametrize("name,arch", CASES)
def test_model_learns_windows_and_round_trips(name, arch, tmp_path):
    keras.utils.set_random_seed(2)
    model = models.build(window_config(name, arch))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = windows()
    before = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    model.fit(x, epochs=8, batch_size=32, verbose=0)
    after = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    key = getattr(model, "progress_metric", None) or (
        "reconstruction" if "reconstruction" in after else "loss")
    assert np.isfinite(after[key])
    if key == "reconstruction":  # a GAN's own metric need not fall in 8
        assert after[key] < 0.9 * before[key], (before, after)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    probe = restored.decode(np.zeros((2, 4), "float32"))
    assert tuple(probe.shape) == (2, WINDOW, 2)
    np.testing.assert_allclose(
        probe, model.decode(np.zeros((2, 4), "float32")), atol=1e-6)


@pytest.mark.parametrize("steps", [15, 17, 48])
def test_conv1d_decoder_crops_to_the_window(steps):
    config = dataclasses.replace(window_config("ae", "conv1d"),
                                 input_shape=(steps, 3),
                                 hidden_units=(4, 8))
    model = models.build(config)
    x = np.zeros((2, steps, 3), "float32")
    assert tuple(model(x).shape) == (2, steps, 3)


def test_sequence_arch_on_images_is_refused():
    config = dataclasses.replace(window_config("ae", "lstm"),
                                 input_shape=(6, 6, 1))
    with pytest.raises(ConfigError, match="--arch=lstm needs series "
                       "windows of shape \\(steps, features\\)"):
        models.build(config)


@pytest.mark.parametrize("layer, kwargs", [
    ("Conv1D", dict(filters=8, kernel_size=7, strides=2, padding="same",
                    activation="relu")),
    ("Conv1D", dict(filters=2, kernel_size=7, padding="same")),
    ("Conv1DTranspose", dict(filters=4, kernel_size=7, strides=2,
                             padding="same", activation="relu")),
])
def test_fused_conv1d_layers_compute_what_keras_does(layer, kwargs):
    import tensorflow as tf

    from kerasae.models import conv1d
    x = tf.constant(np.random.default_rng(0).normal(
        size=(5, WINDOW, 3)).astype("float32"))
    theirs = getattr(keras.layers, layer)(**kwargs)
    ours = getattr(conv1d, layer)(**kwargs)
    theirs.build(x.shape)
    ours.build(x.shape)
    ours.set_weights(theirs.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outputs = [theirs(x), ours(x)]
        losses = [tf.reduce_sum(y * y) for y in outputs]
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-5)
    expected = tape.gradient(losses[0], [x, *theirs.trainable_weights])
    found = tape.gradient(losses[1], [x, *ours.trainable_weights])
    assert len(found) == 3
    for a, b in zip(expected, found):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
