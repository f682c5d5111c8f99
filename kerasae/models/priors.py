"""Prior samplers p(z) for the adversarial autoencoder and the GAN.

The adversarial autoencoder (Makhzani et al. 2015, Section 2) trains its
encoder until the aggregated posterior q(z) matches a prior p(z) that we can
only *sample*; the discriminator never needs a density. Each prior is
registered by name in `PRIORS` (chosen with `--prior`) and takes numeric
keyword parameters (`--prior_params=std=1.0`), validated when the model is
built so that a typo fails before any data loads.

Registering your own prior, from Python, before building the model::

    import kerasae.models.priors

    @kerasae.models.priors.register("laplace")
    def laplace(n, latent_dim, seed, scale=1.0):
        u = keras.random.uniform((n, latent_dim), -0.5, 0.5, seed=seed)
        return -scale * ops.sign(u) * ops.log1p(-2.0 * ops.abs(u))

A function's keyword defaults are its parameters (unknown keys and
non-numbers are refused). For range checks, or a prior whose components a
label can choose, subclass `Prior` and override `check` and `sample`.
"""

import inspect
import math

import keras
import numpy as np
from keras import ops

from kerasae.errors import ConfigError
from kerasae.registry import Registry

PRIORS = Registry("prior", "--prior")


class Prior:
    """A sampler of p(z) with validated numeric parameters.

    Subclasses set `defaults` (name -> default; an `int` default makes the
    parameter a whole number) and implement `sample`.

    Args:
        latent_dim: size of the code.
        **params: overrides of `defaults`.

    Raises:
        ConfigError: an unknown key, a non-numeric value, or a value
            `check` refuses.
    """

    name = "prior"
    defaults = {}
    # True when `sample(labels=...)` draws example i from a component that
    # label i selects (the mixture; Makhzani et al. 2015, Section 2.3).
    label_conditional = False

    def __init__(self, latent_dim, **params):
        self.latent_dim = int(latent_dim)
        self.params = _coerce(self.name, self.defaults, params)
        self.check()

    def check(self):
        """Refuses bad parameter values with a `ConfigError`."""

    def sample(self, n, seed, labels=None):
        """Returns `n` samples, shape (n, latent_dim), float32.

        Args:
            n: number of samples (an int or a scalar tensor).
            seed: a `keras.random.SeedGenerator` (or an int).
            labels: optional (n,) int labels; used by label-conditional
                priors only.
        """
        raise NotImplementedError

    def refuse(self, message):
        raise ConfigError(f"--prior={self.name}: {message}")


def _coerce(name, defaults, params):
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(
            f"--prior_params: {name} has no parameter {unknown[0]!r} "
            f"(known: {known})")
    values = dict(defaults)
    for key, value in params.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise ConfigError(
                f"--prior_params: {name} {key}={value!r} is not a finite "
                "number")
        if isinstance(defaults[key], int):
            if number != int(number):
                raise ConfigError(
                    f"--prior_params: {name} {key}={value!r} must be a whole "
                    "number")
            number = int(number)
        values[key] = number
    return values


def register(name):
    """Decorator registering a `Prior` subclass or a sampling function.

    A function is called as `fn(n, latent_dim, seed, **params)` and must
    return an (n, latent_dim) tensor; its keyword defaults are its
    parameters.

    Raises:
        ValueError: `name` is already registered.
    """
    def wrap(obj):
        if isinstance(obj, type) and issubclass(obj, Prior):
            obj.name = name
            PRIORS.register(name, obj)
        else:
            PRIORS.register(name, _function_prior(name, obj))
        return obj
    return wrap


def _function_prior(name, function):
    signature = inspect.signature(function)
    defaults = {
        key: p.default for key, p in list(signature.parameters.items())[3:]
        if p.default is not inspect.Parameter.empty
    }

    def sample(self, n, seed, labels=None):
        return function(n, self.latent_dim, seed, **self.params)

    return type(f"FunctionPrior_{name}", (Prior,), {
        "name": name, "defaults": defaults, "sample": sample})


def build(name, latent_dim, params=None):
    """Returns the prior `name` with `params`, validated.

    Raises:
        ConfigError: unknown name or bad parameters, in one line.
    """
    return PRIORS.get(name)(latent_dim, **dict(params or {}))


def parse_params(text):
    """Parses `--prior_params` text like `std=1.0,k=10` into numbers.

    Raises:
        ConfigError: an item is not `key=number`.
    """
    params = {}
    for item in filter(None, (s.strip() for s in (text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--prior_params: {item!r} is not key=value, e.g. "
                "--prior_params=std=1.0,k=10")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(
                f"--prior_params: {key.strip()}={value!r} is not a number"
            ) from None
        params[key.strip()] = int(number) if number.is_integer() and \
            "." not in value and "e" not in value.lower() else number
    return params


def _normal(n, dim, seed):
    return keras.random.normal((n, dim), seed=seed, dtype="float32")


@register("gaussian")
class Gaussian(Prior):
    """Isotropic N(0, std^2 I) (Makhzani et al. 2015, Figure 2, top)."""

    defaults = {"std": 1.0}

    def check(self):
        if not self.params["std"] > 0:
            self.refuse(f"std={self.params['std']} must be greater than 0")

    def sample(self, n, seed, labels=None):
        return self.params["std"] * _normal(n, self.latent_dim, seed)


@register("uniform")
class Uniform(Prior):
    """Independent U(low, high) in every dimension."""

    defaults = {"low": -1.0, "high": 1.0}

    def check(self):
        if not self.params["low"] < self.params["high"]:
            self.refuse(f"low={self.params['low']} must be below "
                        f"high={self.params['high']}")

    def sample(self, n, seed, labels=None):
        return keras.random.uniform(
            (n, self.latent_dim), self.params["low"], self.params["high"],
            seed=seed, dtype="float32")


@register("gamma")
class Gamma(Prior):
    """Independent Gamma(shape, scale): mean shape*scale, var shape*scale^2."""

    defaults = {"shape": 2.0, "scale": 1.0}

    def check(self):
        for key in ("shape", "scale"):
            if not self.params[key] > 0:
                self.refuse(f"{key}={self.params[key]} must be greater than 0")

    def sample(self, n, seed, labels=None):
        draws = keras.random.gamma(
            (n, self.latent_dim), self.params["shape"], dtype="float32",
            seed=seed)
        return self.params["scale"] * draws


@register("mixture")
class Mixture(Prior):
    """k Gaussians evenly spaced on a circle in the first two dimensions.

    The prior of Makhzani et al. (2015), Figures 2 and 4: component j is
    centred at radius * (cos 2 pi j / k, sin 2 pi j / k) and stretched
    along its radius (spread `std`) more than across it (`tangential_std`),
    the "petals" of the paper's figures. Dimensions beyond the second are
    N(0, std^2). A label y picks component y (their Section 2.3).
    """

    defaults = {"k": 10, "radius": 4.0, "std": 1.0, "tangential_std": 0.25}
    label_conditional = True

    def check(self):
        p = self.params
        if p["k"] < 1:
            self.refuse(f"k={p['k']} must be at least 1")
        if p["radius"] < 0:
            self.refuse(f"radius={p['radius']} must be 0 or more")
        for key in ("std", "tangential_std"):
            if not p[key] > 0:
                self.refuse(f"{key}={p[key]} must be greater than 0")
        if self.latent_dim < 2:
            self.refuse(
                f"needs --latent_dim of at least 2, got {self.latent_dim}")

    def centers(self):
        """Component means, a (k, latent_dim) numpy array."""
        k, radius = self.params["k"], self.params["radius"]
        angles = 2 * np.pi * np.arange(k) / k
        out = np.zeros((k, self.latent_dim), "float32")
        out[:, 0], out[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
        return out

    def sample(self, n, seed, labels=None):
        p = self.params
        if labels is None:
            component = keras.random.randint((n,), 0, p["k"], seed=seed)
        else:
            component = ops.mod(ops.cast(ops.reshape(labels, (-1,)), "int32"),
                                p["k"])
        angle = ops.cast(component, "float32") * (2 * np.pi / p["k"])
        noise = _normal(n, self.latent_dim, seed)
        radial = p["radius"] + p["std"] * noise[:, 0]
        across = p["tangential_std"] * noise[:, 1]
        first = radial * ops.cos(angle) - across * ops.sin(angle)
        second = radial * ops.sin(angle) + across * ops.cos(angle)
        rest = p["std"] * noise[:, 2:]
        return ops.concatenate(
            [ops.stack([first, second], axis=1), rest], axis=1)
