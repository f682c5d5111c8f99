"""Variational autoencoder (Kingma and Welling 2014).

The encoder outputs the mean and log-variance of q(z|x); in training and
evaluation the code is sampled with the reparameterization trick,
z = mean + exp(log_var / 2) * eps (their Eq. 10), and the loss is the
reconstruction negative log-likelihood (Bernoulli from logits for data in
[0, 1], unit-variance Gaussian otherwise) plus beta times the analytic
KL(q(z|x) || N(0, I)) (their Appendix B; beta-VAE, Higgins et al. 2017).
`call` decodes the mean, so it is deterministic and exportable: sampling
never enters an exported graph.
"""

import keras
from keras import ops

from kerasae.models import losses
from kerasae.models.base import Autoencoder
from kerasae.registry import MODELS


@MODELS.register("vae")
@keras.saving.register_keras_serializable(package="kerasae")
class VariationalAutoencoder(Autoencoder):
    """A VAE whose metrics include `neg_elbo` (nats per example, beta=1).

    It overrides three hooks of `Autoencoder`: `code_from_encoding` (the
    mean is the code), `loss_code` (the reparameterized sample) and
    `regularizer` (the KL term).
    """

    is_variational = True
    is_generative = True

    def encoder_units(self):
        return 2 * self.latent_dim

    def metric_names(self):
        return super().metric_names() + ["kl", "neg_elbo"]

    def split(self, encoding):
        """Returns (mean, log_var) from the encoder output."""
        return encoding[:, :self.latent_dim], encoding[:, self.latent_dim:]

    def encode_distribution(self, x):
        """Mean and log-variance of q(z|x)."""
        return self.split(self.encoder(x, training=False))

    def code_from_encoding(self, encoding, training):
        # The deterministic code is the mean; `compute_losses` samples.
        mean, log_var = self.split(encoding)
        return mean, {"mean": mean, "log_var": log_var}

    def sample_code(self, mean, log_var):
        """Reparameterized sample z = mean + sigma * eps."""
        eps = keras.random.normal(
            ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * log_var) * eps

    def loss_code(self, code, stats, training):
        # The ELBO needs a sampled code in evaluation too, so both modes
        # sample; only `encode`/`call` use the mean.
        return self.sample_code(stats["mean"], stats["log_var"])

    def regularizer(self, code, stats):
        """beta * KL(q(z|x) || N(0, I)), analytic (their Appendix B)."""
        kl = losses.gaussian_kl(stats["mean"], stats["log_var"])
        return self.config.beta * kl, ops.zeros((), kl.dtype), {"kl": kl}

    def report(self, terms):
        """The negative ELBO (beta = 1) in nats per example."""
        return {"neg_elbo": terms.reconstruction + terms.extra["kl"]}

    def reconstruction_nll(self, x, raw):
        if self.config.reconstruction_loss == "bce":
            return losses.bernoulli_nll(x, raw)
        return losses.gaussian_nll(x, self.output_activation(raw))
