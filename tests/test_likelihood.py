"""The options that make the VAE's likelihoods comparable with the papers:
binarized data, the IWAE objective, its learning-rate schedule and output
bias, KL warm-up and free bits."""

import keras
import numpy as np
import pytest

from kerasae import config as kae_config
from kerasae import data as kae_data
from kerasae import evaluation
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.data import binarize
from kerasae.errors import ConfigError
from kerasae.training import schedules


def tiny_vae(**fields):
    keras.utils.set_random_seed(0)
    return models.build(ModelConfig(
        name="vae", hidden_units=(16,), latent_dim=3, input_shape=(6,),
        reconstruction_loss="bce", output_activation="sigmoid", **fields))


# ------------------------------------------------------------ binarize
def test_static_sample_is_binary_seeded_and_has_the_intensity_as_mean():
    x = np.full((2000, 10), 0.3, np.float32)
    a, b = binarize.sample(x, 1), binarize.sample(x, 1)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 1.0}
    assert a.mean() == pytest.approx(0.3, abs=0.01)
    assert not np.array_equal(a, binarize.sample(x, 2))


def test_binarized_bundle_keeps_test_fixed_across_run_seeds(npz_path):
    grey = kae_data.load(DataConfig(dataset=npz_path), seed=0)
    # The default returns the very same bundle: grey-level, untouched.
    assert grey.binarize == "none"
    assert len(np.unique(grey.train.x)) > 2  # grey levels kept
    static = {seed: binarize.binarize_bundle(grey, "static", seed)
              for seed in (0, 1)}
    dynamic = binarize.binarize_bundle(grey, "dynamic", 3)
    # Validation (this source's evaluation split) is the same sample for
    # every run seed and both modes; the static training sample follows
    # the run's seed; the dynamic training split stays grey-level.
    np.testing.assert_array_equal(static[0].validation.x,
                                  static[1].validation.x)
    np.testing.assert_array_equal(static[0].validation.x,
                                  dynamic.validation.x)
    assert set(np.unique(static[0].validation.x)) <= {0.0, 1.0}
    assert set(np.unique(static[0].train.x)) <= {0.0, 1.0}
    assert not np.array_equal(static[0].train.x, static[1].train.x)
    np.testing.assert_array_equal(dynamic.train.x, grey.train.x)
    assert dynamic.binarize == "dynamic"
    # `load` applies the config's mode.
    loaded = kae_data.load(DataConfig(dataset=npz_path, binarize="static"),
                           seed=0)
    np.testing.assert_array_equal(loaded.train.x, static[0].train.x)


def test_dynamic_binarizer_resamples_every_epoch_and_repeats_by_seed():
    x = np.full((8, 50), 0.5, np.float32)

    def epochs(seed):
        ds = kae_data.make_dataset(x, batch_size=8).apply(
            binarize.dynamic_binarizer(seed))
        return [next(iter(ds)).numpy() for _ in range(2)]

    first, second = epochs(0)
    assert set(np.unique(first)) == {0.0, 1.0}
    assert not np.array_equal(first, second)  # a new draw each use
    again = epochs(0)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])


def test_dynamic_binarizer_keeps_labels():
    x = np.full((4, 3), 0.5, np.float32)
    y = np.arange(4)
    ds = kae_data.make_dataset(x, y, batch_size=4).apply(
        binarize.dynamic_binarizer(0))
    bx, by = next(iter(ds))
    np.testing.assert_array_equal(by, y)
    assert bx.shape == (4, 3)


def test_binarize_refuses_standardized_data(tmp_path):
    path = tmp_path / "sensors.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b"] + [f"{a:.3f},{b:.3f}" for a, b in
                      rng.normal(50, 10, size=(30, 2))]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError, match="--binarize=static needs data in "
                       r"\[0, 1\].*drop --binarize"):
        kae_data.load(DataConfig(dataset=str(path), binarize="static"))


# ------------------------------------------------------------ config
@pytest.mark.parametrize("model, data, train, message", [
    ({}, {"binarize": "yes"}, {}, "--binarize='yes' is not one of"),
    ({"iwae_samples": 0}, {}, {}, "--iwae_samples=0: must be greater"),
    ({"output_bias": "mean"}, {}, {}, "--output_bias='mean' is not one of"),
    ({}, {}, {"lr_schedule": "cosine"}, "--lr_schedule='cosine' is not"),
    ({"kl_warmup_epochs": -1}, {}, {}, "--kl_warmup_epochs and --free_bits"),
    ({"free_bits": -0.5}, {}, {}, "--kl_warmup_epochs and --free_bits"),
    ({"name": "ae", "iwae_samples": 5}, {}, {}, "apply to --model=vae only"),
    ({"iwae_samples": 5, "free_bits": 0.1}, {}, {},
     "use it with --iwae_samples=1"),
    ({}, {}, {"adam_beta1": 1.0}, r"--adam_beta1=1.0: must be in \[0, 1\)"),
    ({}, {}, {"adam_beta2": -0.1}, r"--adam_beta2=-0.1: must be in"),
    ({}, {}, {"adam_epsilon": 0.0}, "--adam_epsilon=0.0: must be greater"),
])
def test_bad_likelihood_options(model, data, train, message):
    config = Config(model=ModelConfig(**model), data=DataConfig(**data),
                    train=TrainConfig(**train))
    with pytest.raises(ConfigError, match=message):
        kae_config.validate(config)


# ------------------------------------------------------------ IWAE
def test_iwae_loss_is_the_log_mean_of_the_importance_weights(monkeypatch):
    model = tiny_vae(iwae_samples=4)
    x = np.random.default_rng(0).uniform(size=(5, 6)).astype("float32")
    draws = []
    original = model.sample_code

    def recorded(mean, log_var):
        z = original(mean, log_var)
        draws.append(np.asarray(z))
        return z

    monkeypatch.setattr(model, "sample_code", recorded)
    terms = model.compute_losses(x, training=True)
    loss = np.asarray(terms.reconstruction + terms.per_example)
    # Recompute Eq. 8 of Burda et al. (2016) in NumPy from the same draws.
    z = draws[0].reshape(4, 5, 3)
    mean, log_var = (np.asarray(t) for t in model.encode_distribution(x))
    logits = np.asarray(model.decode_logits(draws[0])).reshape(4, 5, 6)
    log_px = np.sum(x * logits - np.logaddexp(0, logits), axis=-1)
    log_pz = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=-1)
    log_qz = -0.5 * np.sum(np.log(2 * np.pi) + log_var
                           + (z - mean) ** 2 / np.exp(log_var), axis=-1)
    log_w = log_px + log_pz - log_qz
    expected = -(np.logaddexp.reduce(log_w, axis=0) - np.log(4))
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(terms.extra["iwae_nll"]),
                               expected, rtol=1e-5, atol=1e-4)


def test_iwae_objective_is_tighter_than_the_elbo_for_the_same_weights():
    elbo_model = tiny_vae()
    iwae_model = tiny_vae(iwae_samples=50)
    iwae_model.set_weights(elbo_model.get_weights())
    x = np.random.default_rng(1).uniform(size=(400, 6)).astype("float32")
    neg_elbo = np.mean(elbo_model.compute_losses(x).extra["neg_elbo"])
    iwae = iwae_model.compute_losses(x).extra["iwae_nll"]
    assert float(np.mean(iwae)) < float(neg_elbo) - 0.05


def test_iwae_vae_trains_and_round_trips(tmp_path):
    model = tiny_vae(iwae_samples=5)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = np.random.default_rng(2).uniform(size=(128, 6)).astype("float32")
    before = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    model.fit(x, epochs=5, batch_size=32, verbose=0)
    after = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    assert after["iwae_nll"] < before["iwae_nll"]
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.config.iwae_samples == 5


# ------------------------------------------------------------ warm-up
def test_kl_warmup_scales_the_kl_in_training_only():
    model = tiny_vae(kl_warmup_epochs=2)
    x = np.random.default_rng(3).uniform(size=(16, 6)).astype("float32")
    model.kl_scale.assign(0.0)
    train_terms = model.compute_losses(x, training=True)
    np.testing.assert_array_equal(train_terms.per_example, 0.0)
    model.kl_scale.assign(0.25)
    terms = model.compute_losses(x, training=True)
    np.testing.assert_allclose(terms.per_example,
                               0.25 * np.asarray(terms.extra["kl"]),
                               rtol=1e-6)
    # Evaluation reports the full ELBO whatever the warm-up reached.
    test_terms = model.compute_losses(x, training=False)
    np.testing.assert_allclose(test_terms.per_example,
                               test_terms.extra["kl"], rtol=1e-6)


def test_kl_warmup_callback_reaches_one_after_its_steps():
    model = tiny_vae(kl_warmup_epochs=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  steps_per_execution=1)
    x = np.random.default_rng(4).uniform(size=(64, 6)).astype("float32")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(model.kl_scale.numpy()))

    model.fit(x, epochs=2, batch_size=16, verbose=0,
              callbacks=[schedules.KLWarmup(4), Record()])
    assert seen[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert seen[-1] == 1.0


def test_free_bits_closed_form_at_the_prior():
    model = tiny_vae(free_bits=0.5)
    mean = keras.ops.zeros((4, 3))
    log_var = keras.ops.zeros((4, 3))
    per_example, batch, extra = model.regularizer(
        mean, {"mean": mean, "log_var": log_var, "training": True})
    # KL is 0 for every unit, so each unit is charged its 0.5 free nats.
    np.testing.assert_array_equal(per_example, 0.0)
    assert float(batch) == pytest.approx(1.5)
    np.testing.assert_array_equal(extra["kl"], 0.0)
    # Above the floor the batch-mean KL of each unit is charged as is.
    mean = keras.ops.full((4, 3), 2.0)  # KL_j = 2 nats per unit
    _, batch, _ = model.regularizer(
        mean, {"mean": mean, "log_var": log_var, "training": True})
    assert float(batch) == pytest.approx(6.0)


# ------------------------------------------------------------ schedule
def test_iwae_schedule_at_full_length_is_the_papers():
    # Stage i: 3^i epochs at 1e-3 * 10^(-i/7) (Burda et al. 2016, Sec. 5).
    epoch = 0
    for stage in range(8):
        for _ in range(3**stage):
            assert schedules.iwae_stage(epoch, 3280) == stage
            epoch += 1
    assert epoch == 3280
    assert schedules.iwae_learning_rate(3279, 3280) == pytest.approx(1e-4)
    assert schedules.iwae_learning_rate(1, 3280) == pytest.approx(
        1e-3 * 10 ** (-1 / 7))


def test_iwae_schedule_shortened_keeps_its_shape():
    stages = [schedules.iwae_stage(e, 100) for e in range(100)]
    assert stages == sorted(stages) and stages[-1] == 7
    # The last stage starts once 1093/3280 of the run is done (33.3
    # epochs of 100): epochs 34 to 99, about its 2187/3280 share.
    assert stages.count(7) == 66


def test_output_bias_is_the_logit_of_the_training_mean():
    model = tiny_vae()
    x = np.random.default_rng(5).uniform(size=(100, 6)).astype("float32")
    x[:, 0] = 0.0  # a pixel that is never on: clipped to a finite logit
    schedules.initialize_output_bias(model, x)
    bias = model.decoder.layers[-1].bias.numpy()
    expected = np.clip(x.mean(axis=0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), expected, rtol=1e-5)


def test_training_with_the_papers_options_end_to_end(npz_path, tmp_path):
    config = Config(
        model=ModelConfig(name="vae", hidden_units=(16,), latent_dim=3,
                          activation="tanh", iwae_samples=3,
                          output_bias="data_mean", kl_warmup_epochs=1),
        data=DataConfig(dataset=npz_path, binarize="dynamic"),
        train=TrainConfig(epochs=2, batch_size=32, lr_schedule="iwae",
                          adam_epsilon=1e-4, adam_beta1=0.8),
    )
    workdir = str(tmp_path / "run")
    metrics = training.train(config, workdir, verbose=0)
    assert np.isfinite(metrics["validation"]["iwae_nll"])
    _, model, _ = training.load_run(workdir)
    assert model.optimizer.beta_1 == pytest.approx(0.8)
    assert model.optimizer.epsilon == pytest.approx(1e-4)
    assert float(model.kl_scale.numpy()) == 1.0
    # lr at the end: the last stage's 1e-3 * 10^(-7/7).
    assert float(model.optimizer.learning_rate.numpy()) == \
        pytest.approx(1e-4)


def test_nll_estimate_reports_its_standard_error_and_data():
    model = tiny_vae()
    x = np.random.default_rng(6).uniform(size=(40, 6)).astype("float32")
    result = evaluation.nll_estimate(model, x, 10, "dynamic")
    nll = -evaluation.iwae_bound(model, x, 10)
    assert result["iwae_k"] == 10 and result["iwae_examples"] == 40
    assert result["iwae_data"].startswith("binarized (dynamic")
    # A fresh estimate differs by noise of about its standard error.
    assert abs(result["iwae_nll_k10"] - nll.mean()) < \
        6 * result["iwae_nll_stderr"]
    assert result["iwae_nll_stderr"] == pytest.approx(
        nll.std(ddof=1) / np.sqrt(40), rel=0.5)
    assert evaluation.nll_estimate(model, x, 1)["iwae_data"].startswith(
        "grey-level")


def test_short_mnist_run_nll_improves_with_k_and_is_below_the_elbo(
        shared_tfds, tmp_path):
    """A few hundred steps of the paper's protocol on real MNIST: the
    test NLL estimate -log p_k falls as k grows (Burda et al. 2016,
    Theorem 1), and lies below the -ELBO."""
    config = Config(
        model=ModelConfig(name="vae", hidden_units=(64,), latent_dim=8,
                          activation="tanh", output_bias="data_mean"),
        data=DataConfig(dataset="mnist", data_dir=shared_tfds,
                        binarize="dynamic"),
        train=TrainConfig(epochs=2, batch_size=100, steps_per_epoch=100),
    )
    workdir = str(tmp_path / "run")
    training.train(config, workdir, verbose=0)
    _, model, _ = training.load_run(workdir)
    bundle = kae_data.load(config.data, seed=0)
    x = bundle.test.x[:300]
    assert set(np.unique(x)) == {0.0, 1.0}
    neg_elbo = evaluation.negative_elbo(model, x, samples=20).mean()
    nll = {k: evaluation.nll_estimate(model, x, k, bundle.binarize)
           for k in (10, 200)}
    assert nll[10]["iwae_nll_k10"] < neg_elbo
    assert nll[200]["iwae_nll_k200"] < nll[10]["iwae_nll_k10"]
    assert nll[200]["iwae_data"].startswith("binarized")
