"""Prior samplers: shapes, moments, determinism, registration, bad input."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasae.errors import ConfigError
from kerasae.models import priors

N = 20000


def draw(name, latent_dim=3, params=None, labels=None, seed=0):
    prior = priors.build(name, latent_dim, params)
    return np.asarray(prior.sample(
        N if labels is None else len(labels),
        keras.random.SeedGenerator(seed), labels))


def test_gaussian_mean_and_std():
    z = draw("gaussian", params={"std": 2.0})
    assert z.shape == (N, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.06)
    np.testing.assert_allclose(z.std(0), 2.0, rtol=0.03)


def test_uniform_range_and_moments():
    z = draw("uniform", params={"low": -2, "high": 3})
    assert z.min() >= -2.0 and z.max() < 3.0
    np.testing.assert_allclose(z.mean(0), 0.5, atol=0.05)
    np.testing.assert_allclose(z.var(0), 25 / 12, rtol=0.05)


def test_gamma_mean_and_variance():
    z = draw("gamma", params={"shape": 2.0, "scale": 1.5})
    assert z.min() > 0
    np.testing.assert_allclose(z.mean(0), 3.0, rtol=0.03)
    np.testing.assert_allclose(z.var(0), 2.0 * 1.5**2, rtol=0.08)


def test_mixture_components_sit_on_the_circle():
    params = {"k": 8, "radius": 5.0, "std": 0.8, "tangential_std": 0.2}
    prior = priors.build("mixture", 4, params)
    centers = prior.centers()
    np.testing.assert_allclose(np.hypot(centers[:, 0], centers[:, 1]), 5.0,
                               rtol=1e-6)
    for j in (0, 3, 7):
        z = draw("mixture", 4, params, labels=np.full(4000, j))
        np.testing.assert_allclose(z[:, :2].mean(0), centers[j, :2],
                                   atol=0.06)
        angle = 2 * np.pi * j / 8
        radial = z[:, 0] * np.cos(angle) + z[:, 1] * np.sin(angle)
        across = -z[:, 0] * np.sin(angle) + z[:, 1] * np.cos(angle)
        np.testing.assert_allclose(radial.std(), 0.8, rtol=0.06)
        np.testing.assert_allclose(across.std(), 0.2, rtol=0.06)
        np.testing.assert_allclose(z[:, 2:].std(0), 0.8, rtol=0.06)


def test_mixture_without_labels_uses_every_component_equally():
    z = draw("mixture", 2, {"k": 10})
    angle = np.mod(np.arctan2(z[:, 1], z[:, 0]), 2 * np.pi)
    nearest = np.round(angle / (2 * np.pi / 10)).astype(int) % 10
    shares = np.bincount(nearest, minlength=10) / N
    np.testing.assert_allclose(shares, 0.1, atol=0.015)


def test_same_seed_same_samples():
    np.testing.assert_array_equal(draw("mixture", seed=3),
                                  draw("mixture", seed=3))
    assert not np.array_equal(draw("gaussian", seed=3),
                              draw("gaussian", seed=4))


@pytest.mark.parametrize("name, params, message", [
    ("gaussain", {}, r"--prior='gaussain' is not a known prior; choose one "
     r"of: .*gaussian"),
    ("gaussian", {"sd": 1}, r"gaussian has no parameter 'sd' \(known: std\)"),
    ("gaussian", {"std": -1.0}, r"--prior=gaussian: std=-1.0 must be greater"),
    ("mixture", {"k": 0}, r"--prior=mixture: k=0 must be at least 1"),
    ("mixture", {"k": 2.5}, r"k=2.5 must be a whole number"),
    ("uniform", {"low": 1, "high": 1}, r"low=1.0 must be below high=1.0"),
    ("gamma", {"scale": "big"}, r"gamma scale='big' is not a finite number"),
    ("gamma", {"shape": 0}, r"shape=0.0 must be greater than 0"),
])
def test_bad_prior_is_a_one_line_config_error(name, params, message):
    with pytest.raises(ConfigError, match=message) as error:
        priors.build(name, 2, params)
    assert "\n" not in str(error.value)


def test_mixture_needs_two_dimensions():
    with pytest.raises(ConfigError, match="needs --latent_dim of at least 2"):
        priors.build("mixture", 1)


def test_parse_params():
    assert priors.parse_params("std=1.5, k=10") == {"std": 1.5, "k": 10}
    assert priors.parse_params("") == {}
    with pytest.raises(ConfigError, match="'std' is not key=value"):
        priors.parse_params("std")
    with pytest.raises(ConfigError, match="std='x' is not a number"):
        priors.parse_params("std=x")


@pytest.fixture
def scratch_names():
    names = []
    yield names
    for name in names:  # keep the shared registry as it was
        priors.PRIORS._entries.pop(name, None)


def test_user_function_prior(scratch_names):
    scratch_names.append("test_shifted")

    @priors.register("test_shifted")
    def shifted(n, latent_dim, seed, shift=1.0):
        return shift + keras.random.normal((n, latent_dim), seed=seed)

    z = draw("test_shifted", 2, {"shift": 3})
    np.testing.assert_allclose(z.mean(0), 3.0, atol=0.05)
    with pytest.raises(ConfigError, match="no parameter 'scale'"):
        priors.build("test_shifted", 2, {"scale": 1})
    with pytest.raises(ValueError, match="already registered"):
        priors.register("test_shifted")(shifted)


def test_user_class_prior(scratch_names):
    scratch_names.append("test_constant")

    @priors.register("test_constant")
    class Constant(priors.Prior):
        defaults = {"value": 0.0}

        def check(self):
            if self.params["value"] < 0:
                self.refuse("value must be 0 or more")

        def sample(self, n, seed, labels=None):
            return ops.full((n, self.latent_dim), self.params["value"])

    assert draw("test_constant", 2, {"value": 2}).max() == 2.0
    with pytest.raises(ConfigError, match="--prior=test_constant: value"):
        priors.build("test_constant", 2, {"value": -1})
