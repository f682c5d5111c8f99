"""MMD and Kolmogorov-Smirnov statistics between codes and a prior."""

import keras
import numpy as np

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.evaluation import prior_match
from kerasae.models import priors


def test_ks_matches_a_hand_computed_value():
    # ECDF gaps at 1, 2, 2.5, 3, 3.5: 1/3, 2/3, 1/6, 1/2, 0.
    d = prior_match.ks_statistics([[1.0], [2.0], [3.0]], [[2.5], [3.5]])
    np.testing.assert_allclose(d, [2 / 3])


def test_ks_is_zero_for_equal_and_one_for_disjoint_samples():
    a = np.random.default_rng(0).normal(size=(500, 2))
    np.testing.assert_allclose(prior_match.ks_statistics(a, a), 0.0)
    np.testing.assert_allclose(prior_match.ks_statistics(a, a + 100), 1.0)


def test_mmd_is_zero_on_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(800, 2)), rng.normal(size=(800, 2))
    assert prior_match.mmd(a, a) == 0.0
    same = prior_match.mmd(a, b)
    shifted = prior_match.mmd(a + 1.0, b)
    assert same < 0.01 and shifted > 10 * same


def test_median_distance_of_a_standard_normal():
    x = np.random.default_rng(1).normal(size=(1500, 2))
    # |a - b| for a, b ~ N(0, I_2) is Rayleigh with sigma sqrt(2): median
    # sqrt(2) * sqrt(2 ln 2).
    expected = np.sqrt(2) * np.sqrt(2 * np.log(2))
    np.testing.assert_allclose(prior_match.median_distance(x), expected,
                               rtol=0.05)


def test_prior_samples_match_and_scaled_codes_do_not():
    prior = priors.build("gaussian", 2)
    matched = np.asarray(prior.sample(3000, keras.random.SeedGenerator(9)))
    good = prior_match.prior_match(matched, prior)
    bad = prior_match.prior_match(5.0 * matched, prior)
    # sup_t |Phi(t / 5) - Phi(t)| is about 0.34.
    assert good["prior_ks_max"] < 0.05 and bad["prior_ks_max"] > 0.3
    assert bad["prior_mmd"] > 20 * good["prior_mmd"]


def test_labels_choose_mixture_components():
    prior = priors.build("mixture", 2, {"k": 4})
    labels = np.repeat(np.arange(4), 500)
    codes = np.asarray(prior.sample(2000, keras.random.SeedGenerator(1),
                                    labels))
    result = prior_match.prior_match(codes, prior, labels=labels)
    assert result["prior_ks_max"] < 0.06
    counts = prior_match.component_counts(codes, prior.centers())
    np.testing.assert_array_equal(counts, [500, 500, 500, 500])


def test_any_model_with_encode_can_be_scored():
    model = models.build(ModelConfig(
        name="ae", hidden_units=(8,), latent_dim=2, input_shape=(5,),
        reconstruction_loss="mse", output_activation="linear"))
    x = np.random.default_rng(0).normal(size=(300, 5)).astype("float32")
    result = prior_match.model_prior_match(model, x, "gaussian",
                                           max_points=200)
    assert set(result) == {"prior_mmd", "prior_ks_max", "prior_ks_mean"}
    assert all(np.isfinite(v) for v in result.values())
