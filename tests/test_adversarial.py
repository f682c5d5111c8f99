"""Adversarial autoencoder and GAN: phases, labels, optimizers, pictures."""

import dataclasses
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.evaluation import plots
from kerasae.evaluation import plots_latent
from kerasae.evaluation import prior_match
from kerasae.models import adversarial

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(name="aae", **changes):
    config = ModelConfig(
        name=name, hidden_units=(16,), latent_dim=2, input_shape=(6, 6, 1),
        reconstruction_loss="bce", output_activation="sigmoid",
        num_classes=3, discriminator_units=(8,))
    return dataclasses.replace(config, **changes)


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 6, 6, 1)).astype("float32")
    return x, rng.integers(0, 3, size=n)


def weights(network):
    return [np.array(w) for w in network.trainable_weights]


def changed(before, network):
    return any(not np.array_equal(a, b)
               for a, b in zip(before, weights(network)))


def compiled(config, rate=1e-2):
    keras.utils.set_random_seed(0)
    model = models.build(config)
    training.compile_model(model, Config(train=TrainConfig(
        learning_rate=rate, discriminator_learning_rate=rate,
        generator_learning_rate=rate)))
    return model


@pytest.mark.parametrize("phase, moves", [
    ("reconstruction_phase", {"encoder", "decoder"}),
    ("discriminator_phase", {"discriminator"}),
    ("generator_phase", {"encoder"}),
])
def test_each_phase_changes_only_its_weights(phase, moves):
    model = compiled(tiny())
    x, _ = batch()
    parts = ("encoder", "decoder", "discriminator")
    before = {p: weights(getattr(model, p)) for p in parts}
    getattr(model, phase)(x)
    for part in parts:
        assert changed(before[part], getattr(model, part)) == (part in moves)


def test_gan_phases_change_only_their_network():
    model = compiled(tiny("gan"))
    x, _ = batch()
    before = weights(model.generator), weights(model.discriminator)
    model.discriminator_phase(x)
    assert not changed(before[0], model.generator)
    assert changed(before[1], model.discriminator)
    before = weights(model.discriminator)
    model.generator_phase(16)
    assert not changed(before, model.discriminator)


@pytest.mark.parametrize("name", ["aae", "gan"])
def test_fit_reports_every_phase(name):
    model = compiled(tiny(name))
    x, _ = batch(64)
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    for key in ("discriminator_loss", "generator_loss"):
        assert np.all(np.isfinite(history[key]))
    accuracy = np.asarray(history["discriminator_accuracy"])
    assert np.all((accuracy >= 0) & (accuracy <= 1))
    if name == "aae":
        assert np.all(np.isfinite(history["reconstruction"]))


def test_three_optimizers_follow_the_train_config():
    model = models.build(tiny())
    training.compile_model(model, Config(train=TrainConfig(
        learning_rate=1e-3, discriminator_learning_rate=2e-4,
        generator_learning_rate=3e-4)))
    rates = [float(np.array(o.learning_rate)) for o in (
        model.optimizer, model.discriminator_optimizer,
        model.generator_optimizer)]
    np.testing.assert_allclose(rates, [1e-3, 2e-4, 3e-4], rtol=1e-6)


def test_round_trip_keeps_optimizers_and_discriminator(tmp_path):
    model = compiled(tiny())
    x, _ = batch(32)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    for name in ("optimizer", "discriminator_optimizer",
                 "generator_optimizer"):
        assert int(getattr(restored, name).iterations) == 2
    for a, b in zip(weights(model.discriminator),
                    weights(restored.discriminator)):
        np.testing.assert_array_equal(a, b)


def test_supervised_decoder_gets_the_label():
    model = compiled(tiny(supervised=True))
    assert model.uses_labels
    assert model.decoder.input_shape[-1] == 2 + 3
    assert model.discriminator.input_shape[-1] == 2  # gaussian: style only
    x, y = batch()
    np.testing.assert_array_equal(model((x, y)), model((x, y)))
    code = model.encode(x)
    differ = np.abs(np.array(model.decode(code, labels=np.zeros(16)))
                    - np.array(model.decode(code, labels=np.ones(16))))
    assert differ.max() > 0
    with pytest.raises(ValueError, match=r"decodes \(code, label\)"):
        model(x)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_supervised_mixture_labels_pick_components():
    model = compiled(tiny(supervised=True, prior="mixture",
                          prior_params={"k": 3, "radius": 5.0}))
    assert model.discriminator.input_shape[-1] == 2 + 3
    labels = np.repeat([0, 1, 2], 200)
    z = np.array(model.sample_prior(600, labels))
    centers = model.prior.centers()
    for j in range(3):
        np.testing.assert_allclose(z[labels == j].mean(0), centers[j],
                                   atol=0.3)
    x, y = batch(32)
    metrics = prior_match.model_metrics(model, x, y)
    assert sum(metrics["prior_component_counts"]) == 32


def test_supervised_needs_labels_and_enough_components():
    with pytest.raises(ConfigError, match="--aae_supervised needs labelled"):
        models.build(tiny(supervised=True, num_classes=0))
    with pytest.raises(ConfigError, match="needs k >= the 3 classes"):
        models.build(tiny(supervised=True, prior="mixture",
                          prior_params={"k": 2}))


def test_bad_prior_fails_when_the_model_is_built():
    with pytest.raises(ConfigError, match="std=-1.0 must be greater than 0"):
        models.build(tiny(prior_params={"std": -1.0}))
    with pytest.raises(ConfigError, match="--generator_learning_rate=0"):
        adversarial.validate_config(Config(
            model=tiny(), train=TrainConfig(generator_learning_rate=0)))


def test_train_script_refuses_a_bad_prior_before_loading_data(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "--model=aae", "--prior=mixture",
         "--prior_params=k=0", "--dataset=/no/such/file.npz",
         f"--workdir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "error: --prior=mixture: k=0 must be at least 1" in result.stderr
    assert "no/such" not in result.stderr


def test_evaluation_metrics_count_mixture_components():
    model = compiled(tiny(prior="mixture", prior_params={"k": 4}))
    x, y = batch(40)
    metrics = prior_match.model_metrics(model, x, y)
    assert {"prior_mmd", "prior_ks_max"} <= set(metrics)
    assert len(metrics["prior_component_counts"]) == 4
    assert 0 <= metrics["prior_component_min_share"] <= 1


def image_config(name, **changes):
    return tiny(name, input_shape=(8, 8, 1), **changes)


@pytest.mark.parametrize("config", [
    image_config("vae"), image_config("aae"), image_config("gan"),
    image_config("aae", supervised=True, prior="mixture")])
def test_sample_grid_for_every_generative_model(config, tmp_path):
    model = models.build(config)
    path = plots.save(plots_latent.sample_grid(model, 4),
                      str(tmp_path / "s.png"))
    assert os.path.getsize(path) > 1000


def test_code_and_manifold_pictures(tmp_path):
    model = models.build(image_config("aae", prior="mixture"))
    x = np.random.default_rng(0).uniform(size=(50, 8, 8, 1))
    y = np.arange(50) % 3
    for name, fig in (
            ("codes.png", plots_latent.plot_codes(model, x.astype("float32"),
                                                  y)),
            ("grid.png", plots_latent.plot_decoded_grid(model, n=5))):
        path = plots.save(fig, str(tmp_path / name))
        assert os.path.getsize(path) > 1000
