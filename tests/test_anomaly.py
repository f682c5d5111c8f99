"""Anomaly scores, threshold calibration and the numpy ranking metrics."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.evaluation import anomaly
from kerasae.export import endpoints


def tiny(name="ae", **kwargs):
    config = ModelConfig(name=name, hidden_units=(8,), latent_dim=2,
                         input_shape=(6,), reconstruction_loss="bce",
                         output_activation="sigmoid", **kwargs)
    return models.build(config)


def brute_force_auroc(labels, scores):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0
               for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auroc_hand_computed():
    # Pairs (anomaly, normal): (0.35, 0.1) win, (0.35, 0.4) loss,
    # (0.8, 0.1) win, (0.8, 0.4) win: 3 of 4.
    assert anomaly.auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert anomaly.auroc([0, 1], [1.0, 1.0]) == 0.5  # a tie counts half
    assert anomaly.auroc([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    assert np.isnan(anomaly.auroc([1, 1], [0.1, 0.2]))


def test_auroc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = rng.integers(0, 8, 60).astype(float)  # many ties
    assert anomaly.auroc(labels, scores) == pytest.approx(
        brute_force_auroc(labels, scores), abs=1e-12)


def test_auprc_hand_computed():
    # Ranked: 0.8 (anomaly) P=1 R=.5; 0.4 (normal); 0.35 (anomaly) P=2/3
    # R=1: AP = 0.5 * 1 + 0.5 * 2/3.
    assert anomaly.auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == \
        pytest.approx(0.5 + 1 / 3)
    assert anomaly.auprc([0, 1, 1], [0.0, 0.5, 0.9]) == pytest.approx(1.0)
    # All tied: one threshold, precision = the anomaly share.
    assert anomaly.auprc([0, 1, 0, 1], [1, 1, 1, 1]) == pytest.approx(0.5)


def test_precision_recall_f1_at_threshold():
    labels = [1, 1, 1, 0, 0]
    scores = np.array([5.0, 4.0, 1.0, 3.0, 0.0])
    result = anomaly.report(scores, threshold=2.0, labels=labels)
    # Flagged: 5, 4 (anomalies) and 3 (normal): P = 2/3, R = 2/3.
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["flagged_fraction"] == pytest.approx(0.6)
    assert anomaly.precision_recall_f1([0, 0], [0, 0]) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_calibration_quantile_and_mean_std():
    normal = np.arange(1000, dtype=float)
    threshold = anomaly.calibrate(normal, "quantile", quantile=0.95)
    assert np.mean(normal > threshold) == pytest.approx(0.05, abs=1e-3)
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert anomaly.calibrate(values, "mean_std", k=2.0) == pytest.approx(
        2.5 + 2.0 * np.std(values))


@pytest.mark.parametrize("method, quantile, message", [
    ("median", 0.9, "--threshold_method='median' is not one of"),
    ("quantile", 1.5, "--quantile=1.5: must lie strictly between"),
])
def test_bad_calibration_values_are_refused(method, quantile, message):
    with pytest.raises(ConfigError, match=message):
        anomaly.calibrate([1.0, 2.0], method, quantile=quantile)


def test_anomaly_labels_need_labels():
    assert anomaly.anomaly_labels(np.array([0, 3, 0, 6]), (0, 6)).tolist() \
        == [0, 1, 0, 0]
    with pytest.raises(DataError, match="--normal_classes needs labels"):
        anomaly.anomaly_labels(None, (0,))


def test_bernoulli_entropy_closed_form():
    x = ops.convert_to_tensor(np.array(
        [[0.5] * 6, [0, 1, 0, 1, 1, 0]], "float32"))
    h = ops.convert_to_numpy(anomaly.bernoulli_entropy(x))
    np.testing.assert_allclose(h, [6 * np.log(2.0), 0.0], atol=1e-5)


def test_scores_are_the_documented_quantities():
    model = tiny()
    x = np.random.default_rng(0).uniform(size=(5, 6)).astype("float32")
    x_hat = ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(
        anomaly.scores(model, x, "squared_error"),
        np.sum((x - x_hat) ** 2, axis=1), rtol=1e-5)
    p = np.clip(x_hat, 1e-7, 1 - 1e-7)
    nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    np.testing.assert_allclose(
        anomaly.scores(model, x, "reconstruction_nll", batch_size=2), nll,
        rtol=1e-4)
    entropy = -np.sum(x * np.log(x) + (1 - x) * np.log(1 - x), axis=1)
    kl = anomaly.scores(model, x, "bernoulli_kl")
    np.testing.assert_allclose(kl, nll - entropy, rtol=1e-4, atol=1e-4)
    assert np.all(kl > 0)  # a KL divergence


def test_auto_is_reconstruction_and_code_for_models_with_an_encoder():
    for name in ("ae", "vae"):
        assert anomaly.resolve_score(tiny(name)) == "reconstruction_and_code"
    with pytest.raises(ConfigError,
                       match="call kerasae.evaluation.anomaly.fit"):
        anomaly.scores(tiny(), np.zeros((2, 6), "float32"))  # auto: fitted


def test_vae_score_is_deterministic_and_refused_elsewhere():
    vae = tiny("vae")
    x = np.random.default_rng(1).uniform(size=(4, 6)).astype("float32")
    assert anomaly.resolve_score(vae, "neg_elbo_at_mean") == \
        "neg_elbo_at_mean"
    np.testing.assert_array_equal(anomaly.scores(vae, x, "neg_elbo_at_mean"),
                                  anomaly.scores(vae, x, "neg_elbo_at_mean"))
    with pytest.raises(ConfigError, match="needs a vae"):
        anomaly.resolve_score(tiny(), "neg_elbo_at_mean")
    with pytest.raises(ConfigError, match="--score='elbo' is not one of"):
        anomaly.resolve_score(vae, "elbo")


def test_unfitted_default_is_what_the_exported_signature_falls_back_to():
    x = np.random.default_rng(2).uniform(size=(4, 6)).astype("float32")
    for name, expected in (("ae", "reconstruction_nll"),
                           ("vae", "neg_elbo_at_mean")):
        model = tiny(name)
        assert endpoints.score_name(model) == expected
        np.testing.assert_allclose(
            anomaly.scores(model, x, expected),
            ops.convert_to_numpy(endpoints.anomaly_score(model, x)),
            rtol=1e-5)


@pytest.mark.parametrize("name, score", [
    (name, score) for name in ("ae", "vae") for score in anomaly.SCORES[1:]
    if score != "neg_elbo_at_mean" or name == "vae"])
def test_graph_scores_agree_with_numpy_scores(name, score):
    """The exported graph (traced, params as constants) = `scores`."""
    model = tiny(name)
    rng = np.random.default_rng(5)
    train = rng.uniform(size=(200, 6)).astype("float32")
    normal = rng.uniform(size=(100, 6)).astype("float32")
    params = anomaly.fit(model, score, train, normal)
    x = np.concatenate([normal[:20], np.clip(normal[:20] + 0.5, 0, 1)])
    expected = anomaly.scores(model, x, score, params=params)
    graph = tf.function(lambda t: endpoints.anomaly_score(
        model, t, score=score, params=params))
    got = graph(tf.constant(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5,
                               atol=1e-5 * np.abs(expected).max())


def test_threshold_file_format(tmp_path):
    anomaly.write_threshold(str(tmp_path), "reconstruction_nll", 12.5,
                            "quantile", quantile=0.99)
    with open(tmp_path / "threshold.json") as handle:
        stored = json.load(handle)
    assert stored == {"score": "reconstruction_nll", "threshold": 12.5,
                      "method": "quantile", "quantile": 0.99}
    export = pytest.importorskip("kerasae.export")
    assert export.read_threshold(str(tmp_path), tiny()) == 12.5


def test_code_mahalanobis_known_answer():
    model = tiny()
    x = np.random.default_rng(3).uniform(size=(300, 6)).astype("float32")
    params = anomaly.fit(model, "code_mahalanobis", x, x)
    distance = anomaly.scores(model, x, "code_mahalanobis", params=params)
    # sum_i (c_i - m)^T S^-1 (c_i - m) = tr(S^-1 (n - 1) S) = (n - 1) d
    # for the sample covariance S of the same codes (d = 2 here).
    assert distance.mean() == pytest.approx(2 * 299 / 300, rel=1e-4)
    with pytest.raises(ConfigError,
                       match="call kerasae.evaluation.anomaly.fit"):
        anomaly.scores(model, x, "code_mahalanobis")


def test_reconstruction_and_code_is_standardized_on_normal_data():
    model = tiny()
    rng = np.random.default_rng(4)
    train = rng.uniform(size=(200, 6)).astype("float32")
    normal = rng.uniform(size=(100, 6)).astype("float32")
    params = anomaly.fit(model, "reconstruction_and_code", train, normal)
    combined = anomaly.scores(model, normal, "reconstruction_and_code",
                              params=params)
    # The sum of two z-scores taken on these very examples has mean 0.
    assert combined.mean() == pytest.approx(0.0, abs=1e-9)
    far = np.clip(normal + 0.5, 0, 1)  # off the training distribution
    assert anomaly.scores(model, far, "reconstruction_and_code",
                          params=params).mean() > 1.0
    assert json.loads(json.dumps(params)) == params  # storable as JSON


def test_fitted_scores_of_a_model_that_decodes_code_and_label():
    """The supervised adversarial autoencoder: labels reach the decoder."""
    model = tiny("aae", supervised=True, num_classes=3,
                 discriminator_units=(4,))
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(60, 6)).astype("float32")
    y = rng.integers(0, 3, size=60)
    params = anomaly.fit(model, "auto", x, x, normal_labels=y)
    combined = anomaly.scores(model, x, "auto", y, params=params)
    assert combined.mean() == pytest.approx(0.0, abs=1e-9)
    graph = tf.function(lambda t, labels: endpoints.anomaly_score(
        model, t, labels, "reconstruction_and_code", params))
    np.testing.assert_allclose(
        graph(tf.constant(x), tf.constant(y, tf.int32)).numpy(), combined,
        rtol=1e-5, atol=1e-5 * np.abs(combined).max())
