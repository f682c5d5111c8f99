"""Closed forms of the losses."""

import math

import numpy as np
import pytest
import tensorflow as tf

from kerasae.models import losses


def test_gaussian_kl_is_zero_for_standard_normal():
    mean = np.zeros((4, 3), "float32")
    log_var = np.zeros((4, 3), "float32")
    np.testing.assert_allclose(losses.gaussian_kl(mean, log_var), 0.0,
                               atol=1e-7)


def test_gaussian_kl_matches_closed_form():
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (s^2 + m^2 - 1 - log s^2) per dimension.
    mean = np.array([[1.0, -2.0]], "float32")
    log_var = np.array([[math.log(4.0), 0.0]], "float32")
    expected = 0.5 * (4 + 1 - 1 - math.log(4)) + 0.5 * (1 + 4 - 1 - 0)
    np.testing.assert_allclose(losses.gaussian_kl(mean, log_var), [expected],
                               rtol=1e-6)


def test_sparsity_kl_is_zero_at_target_and_positive_elsewhere():
    rho_hat = np.full((5,), 0.05, "float32")
    assert float(losses.sparsity_kl(0.05, rho_hat)) == pytest.approx(
        0.0, abs=1e-6)
    off = float(losses.sparsity_kl(0.05, np.full((5,), 0.2, "float32")))
    # 5 units * (0.05 log(0.05/0.2) + 0.95 log(0.95/0.8)).
    expected = 5 * (0.05 * math.log(0.25) + 0.95 * math.log(0.95 / 0.8))
    assert off == pytest.approx(expected, rel=1e-5)


def test_bernoulli_nll_matches_direct_formula():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 7)).astype("float32")
    logits = rng.normal(scale=3, size=(3, 7)).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    direct = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    np.testing.assert_allclose(losses.bernoulli_nll(x, logits), direct,
                               rtol=1e-5)


def test_bernoulli_nll_is_finite_for_extreme_logits():
    x = np.array([[0.0, 1.0]], "float32")
    logits = np.array([[200.0, -200.0]], "float32")
    np.testing.assert_allclose(losses.bernoulli_nll(x, logits), [400.0],
                               rtol=1e-6)


def test_bernoulli_nll_gradient_is_sigmoid_minus_target():
    # The hand-written gradient against autodiff of the textbook formula,
    # for image-shaped inputs and a weighted sum over examples.
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(size=(3, 4, 4, 1)), tf.float32)
    logits = tf.constant(rng.normal(scale=3, size=(3, 4, 4, 1)), tf.float32)
    weights = tf.constant([1.0, -2.0, 0.5])

    def textbook(x, logits):
        p = tf.sigmoid(logits)
        return -tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(
            1 - p), axis=[1, 2, 3])

    found, expected = [], []
    for nll, out in ((losses.bernoulli_nll, found), (textbook, expected)):
        with tf.GradientTape() as tape:
            tape.watch([x, logits])
            total = tf.reduce_sum(weights * nll(x, logits))
        out.extend(tape.gradient(total, [x, logits]))
    for got, want in zip(found, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gaussian_nll_constant():
    x = np.zeros((1, 10), "float32")
    np.testing.assert_allclose(
        losses.gaussian_nll(x, x), [5 * math.log(2 * math.pi)], rtol=1e-6)
