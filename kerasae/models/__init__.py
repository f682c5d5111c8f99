"""The model zoo: every family registers itself in `kerasae.registry.MODELS`.

`build(model_config)` returns the registered model for `model_config.name`:
a `ConfiguredModel` (`kerasae.models.base`), an `Autoencoder` for every
family but the GAN, which has no encoder.
"""

from kerasae.models import adversarial  # noqa: F401  (registers aae)
from kerasae.models import adversarial_categorical  # noqa: F401
from kerasae.models import autoencoder  # noqa: F401  (registers ae, dae, ...)
from kerasae.models import gan  # noqa: F401
from kerasae.models import vae  # noqa: F401
from kerasae.models import vqvae  # noqa: F401
from kerasae.models.base import Autoencoder
from kerasae.models.base import ConfiguredModel
from kerasae.registry import MODELS


def build(model_config):
    """Builds the registered model named `model_config.name`.

    Args:
        model_config: a resolved `ModelConfig` (input shape filled in).

    Returns:
        A `ConfiguredModel` subclass (an `Autoencoder` but for the GAN).

    Raises:
        ConfigError: unknown name, or an architecture the data cannot use.
    """
    family = MODELS.get(model_config.name)
    return family.for_config(model_config)(model_config)


__all__ = ["Autoencoder", "ConfiguredModel", "MODELS", "build"]
