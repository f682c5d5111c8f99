"""Codes as features (`kerasae.evaluation.probes`): the probes against
known answers."""

import keras
import numpy as np
import pytest

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.data import Split
from kerasae.evaluation import probes


def clusters(n, seed, centres=3, dim=4, spread=0.1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, centres, size=n)
    means = np.eye(centres, dim) * 3.0
    return (means[y] + spread * rng.normal(size=(n, dim))).astype("f4"), y


def test_knn_reads_well_separated_clusters():
    a, ay = clusters(200, 0)
    b, by = clusters(100, 1)
    assert probes.knn_accuracy(a, ay, b, by) == 1.0
    # Labels unrelated to the features: about chance (1/3).
    rng = np.random.default_rng(2)
    shuffled = rng.permutation(ay)
    assert probes.knn_accuracy(a, shuffled, b, by) < 0.6


def test_knn_is_the_majority_of_the_five_nearest():
    train = np.array([[0.0], [1], [2], [3], [4], [10], [11]], "f4")
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    # The 5 nearest of 0.5 are 0..4: three 0s, two 1s.
    assert probes.knn_accuracy(train, labels, np.array([[0.5]], "f4"),
                               np.array([0])) == 1.0
    assert probes.knn_accuracy(train, labels, np.array([[0.5]], "f4"),
                               np.array([1])) == 0.0


def test_linear_probe_separates_what_is_linearly_separable():
    a, ay = clusters(300, 3, spread=0.5)
    b, by = clusters(200, 4, spread=0.5)
    assert probes.linear_probe_accuracy(a, ay, b, by) > 0.95
    # XOR is not linearly separable: a linear probe stays near chance
    # while 5-NN reads it.
    rng = np.random.default_rng(5)
    xa = rng.uniform(-1, 1, size=(400, 2)).astype("f4")
    xb = rng.uniform(-1, 1, size=(200, 2)).astype("f4")
    ya = ((xa[:, 0] > 0) ^ (xa[:, 1] > 0)).astype(int)
    yb = ((xb[:, 0] > 0) ^ (xb[:, 1] > 0)).astype(int)
    assert probes.linear_probe_accuracy(xa, ya, xb, yb) < 0.7
    assert probes.knn_accuracy(xa, ya, xb, yb) > 0.9


def test_pca_codes_keep_the_leading_directions():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(500, 5)) * np.array([5.0, 3, 1, 0.1, 0.1])
    train, test = probes.pca_codes(a, a[:10], 2)
    assert train.shape == (500, 2) and test.shape == (10, 2)
    np.testing.assert_allclose(np.var(train, axis=0), [25.0, 9.0], rtol=0.2)


@pytest.mark.parametrize("name", ["ae", "vqvae"])
def test_feature_report_of_a_model(name):
    keras.utils.set_random_seed(0)
    model = models.build(ModelConfig(
        name=name, hidden_units=(8,), latent_dim=2, input_shape=(4,),
        reconstruction_loss="mse", output_activation="linear",
        vq_embedding_dim=3))
    a, ay = clusters(120, 7)
    b, by = clusters(60, 8)
    report = probes.feature_report(model, Split(a, ay), Split(b, by),
                                   train_examples=100)
    assert report["train_examples"] == 100 and report["test_examples"] == 60
    # The VQ-VAE's features are its codebook entries: 2 latents x 3.
    assert report["code_size"] == (6 if name == "vqvae" else 2)
    assert report["raw"]["knn5"] == 1.0
    for kind in ("codes", "raw", "pca"):
        assert set(report[kind]) == {"linear", "knn5"}
        assert all(0.0 <= v <= 1.0 for v in report[kind].values())
