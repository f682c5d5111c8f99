"""The VQ-VAE (van den Oord et al. 2017): nearest-entry codes, the loss of
their Eq. 3, the straight-through gradient and the usage perplexity."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasae import config as kae_config
from kerasae import models
from kerasae.config import Config
from kerasae.config import ModelConfig
from kerasae.errors import ConfigError
from kerasae.evaluation import anomaly
from kerasae.models import vqvae


def tiny(**fields):
    keras.utils.set_random_seed(0)
    return models.build(ModelConfig(
        name="vqvae", hidden_units=(16,), latent_dim=2, input_shape=(6,),
        reconstruction_loss="bce", output_activation="sigmoid",
        vq_codebook_size=5, vq_embedding_dim=3, **fields))


def test_codes_are_the_nearest_entries_and_decode_looks_them_up():
    model = tiny()
    x = np.random.default_rng(0).uniform(size=(10, 6)).astype("float32")
    codes = np.asarray(model.encode(x))
    assert codes.dtype == np.int32 and codes.shape == (10, 2)
    z_e = np.asarray(model.encoder(x)).reshape(10, 2, 3)
    book = model.codebook.numpy()
    distances = ((z_e[:, :, None, :] - book[None, None]) ** 2).sum(-1)
    np.testing.assert_array_equal(codes, distances.argmin(-1))
    expected = model.decoder(book[codes].reshape(10, 6))
    np.testing.assert_allclose(model.decode_logits(codes), expected,
                               atol=1e-6)


def test_loss_terms_and_straight_through_gradient():
    model = tiny(commitment_cost=0.25)
    x = np.random.default_rng(1).uniform(size=(8, 6)).astype("float32")
    with tf.GradientTape(persistent=True) as tape:
        terms = model.compute_losses(x, training=True)
        reconstruction = tf.reduce_sum(terms.reconstruction)
        vq = tf.reduce_sum(terms.extra["vq_loss"])
        commitment = tf.reduce_sum(terms.extra["commitment"])
    z_e = np.asarray(model.encoder(x))
    z_q = model.codebook.numpy()[np.asarray(model.encode(x))].reshape(8, 6)
    np.testing.assert_allclose(terms.extra["vq_loss"],
                               ((z_e - z_q) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(
        terms.per_example, 1.25 * ((z_e - z_q) ** 2).sum(1), rtol=1e-5)
    encoder_kernel = model.encoder.trainable_variables[0]
    # The reconstruction reaches the encoder only through the
    # straight-through copy, and the codebook only through its own term.
    assert np.abs(tape.gradient(reconstruction, encoder_kernel)).max() > 0
    assert tape.gradient(reconstruction, model.codebook) is None
    # A gather's gradient: IndexedSlices over the entries in use.
    assert np.abs(tf.convert_to_tensor(
        tape.gradient(vq, model.codebook))).max() > 0
    assert tape.gradient(vq, encoder_kernel) is None
    assert tape.gradient(commitment, model.codebook) is None


def test_perplexity_closed_forms():
    assert float(vqvae.perplexity(np.full(8, 1 / 8, "float32"))) == \
        pytest.approx(8.0)
    assert float(vqvae.perplexity(np.eye(4, dtype="float32")[0])) == \
        pytest.approx(1.0)


def test_whole_split_codebook_usage():
    model = tiny()
    x = np.random.default_rng(2).uniform(size=(50, 6)).astype("float32")
    result = model.codebook_usage(x)
    codes = np.asarray(model.encode(x)).ravel()
    assert result["codebook_entries_used"] == len(np.unique(codes))
    assert 1.0 <= result["codebook_perplexity"] <= \
        result["codebook_entries_used"] + 1e-9


def test_default_anomaly_score_is_the_reconstruction_loss():
    model = tiny()
    assert anomaly.resolve_score(model, "auto") == "reconstruction_nll"


@pytest.mark.parametrize("field, value, message", [
    ("vq_codebook_size", 0, "--vq_codebook_size=0: must be greater than 0"),
    ("vq_embedding_dim", -1, "--vq_embedding_dim=-1: must be greater"),
    ("commitment_cost", -0.1, "--commitment_cost=-0.1: must be >= 0"),
])
def test_bad_vq_options(field, value, message):
    config = Config(model=ModelConfig(name="vqvae", **{field: value}))
    with pytest.raises(ConfigError, match=message):
        kae_config.validate(config)
