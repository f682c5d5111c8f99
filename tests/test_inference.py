"""Batched inference: the same numbers as one model call, and clear refusals.
"""

import numpy as np
import pytest
from sample_data import blob_images

from kerasae import evaluation
from kerasae import models
from kerasae.config import ModelConfig
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.evaluation import inference


def build(name, **kwargs):
    return models.build(ModelConfig(
        name=name, hidden_units=(16,), latent_dim=2, input_shape=(8, 8, 1),
        reconstruction_loss="bce", output_activation="sigmoid",
        num_classes=3, **kwargs))


def test_batches_cover_every_row_in_order():
    x = np.arange(23, dtype="float32").reshape(23, 1)
    parts = [np.asarray(b) for b in inference.batches(x, 5)]
    assert [len(p) for p in parts] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(parts), x)


def test_batched_codes_and_reconstructions_match_one_call():
    x, _ = blob_images(23)
    model = build("vae")
    codes = inference.encode(model, x, batch_size=5)
    np.testing.assert_allclose(codes, np.asarray(model.encode(x)), atol=1e-6)
    np.testing.assert_allclose(inference.reconstruct(model, x, batch_size=5),
                               np.asarray(model(x)), atol=1e-6)
    # The package keeps the names evaluation used before.
    np.testing.assert_array_equal(evaluation.encode(model, x, 5), codes)
    np.testing.assert_array_equal(evaluation.reconstruct(model, x, None, 5),
                                  inference.reconstruct(model, x, None, 5))


def test_supervised_decoding_uses_each_rows_label():
    x, y = blob_images(11, classes=3)
    model = build("aae", supervised=True, prior="mixture")
    codes = inference.encode(model, x)
    batched = inference.decode(model, codes, y, batch_size=4)
    np.testing.assert_allclose(
        batched, np.asarray(model.decode(codes, labels=y)), atol=1e-6)
    np.testing.assert_allclose(inference.reconstruct(model, x, y, 4),
                               np.asarray(model((x, y))), atol=1e-6)
    # Another label gives another image: the labels are really used.
    assert not np.allclose(batched, inference.decode(model, codes, (y + 1) % 3))


def test_supervised_model_without_labels_is_refused():
    x, _ = blob_images(4)
    model = build("aae", supervised=True, prior="mixture")
    with pytest.raises(DataError, match="needs the labels of the examples"):
        inference.reconstruct(model, x)


def test_gan_cannot_encode():
    x, _ = blob_images(4)
    with pytest.raises(ConfigError, match="'gan' model has no encoder"):
        inference.encode(build("gan"), x)


def test_gan_decodes_noise():
    model = build("gan")
    noise = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    np.testing.assert_allclose(inference.decode(model, noise, batch_size=2),
                               np.asarray(model.decode(noise)), atol=1e-6)
