"""Variational autoencoder (Kingma and Welling 2014) and its IWAE objective.

The encoder outputs the mean and log-variance of q(z|x); in training and
evaluation the code is sampled with the reparameterization trick,
z = mean + exp(log_var / 2) * eps (their Eq. 10), and the loss is the
reconstruction negative log-likelihood (Bernoulli from logits for data in
[0, 1], unit-variance Gaussian otherwise) plus beta times the analytic
KL(q(z|x) || N(0, I)) (their Appendix B; beta-VAE, Higgins et al. 2017).
`call` decodes the mean, so it is deterministic and exportable: sampling
never enters an exported graph.

Options of the objective (`ModelConfig`):

- `iwae_samples=k > 1`: the importance-weighted bound
  log (1/k) sum_i p(x, z_i) / q(z_i|x) (Burda et al. 2016, Eq. 8), whose
  reparameterized gradient is their Eq. 14; `importance_log_weights` gives
  the log weights, shared with the evaluation's `iwae_bound`.
- `kl_warmup_epochs`: the KL weight is multiplied by `kl_scale`, which
  `kerasae.training.schedules.KLWarmup` raises from 0 to 1 (Sonderby et
  al. 2016).
- `conditional`: a conditional VAE (Sohn et al. 2015, Section 4.1: the
  CVAE with the recognition network q(z|x, y) and the generation network
  p(x|z, y), the prior p(z) kept at N(0, I)). The one-hot label goes to
  the encoder (beside the flattened input, or as constant channels) and to
  the decoder (beside the code); samples are drawn per requested label.
- `free_bits`: the KL term becomes sum_j max(lambda, mean over the global
  batch of KL_j), so each latent unit gets lambda nats for free (Kingma et
  al. 2016, the "free bits" of inverse autoregressive flow).
"""

import math

import keras
from keras import ops

from kerasae.models import losses
from kerasae.models import replicas
from kerasae.models.base import Autoencoder
from kerasae.models.base import Losses
from kerasae.registry import MODELS

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    return -0.5 * ops.sum(
        LOG_2PI + log_var + ops.square(z - mean) / ops.exp(log_var), axis=-1)


def standard_normal_log_density(z):
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + ops.square(z), axis=-1)


def gaussian_kl_per_unit(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, 1)) of each unit, shape (batch, d).

    The terms of `losses.gaussian_kl` before the sum (Kingma and Welling
    2014, Appendix B).
    """
    return -0.5 * (1.0 + log_var - ops.square(mean) - ops.exp(log_var))


def log_mean_exp(values, axis=0):
    """log mean exp(values) along `axis`, computed stably."""
    count = ops.cast(ops.shape(values)[axis], values.dtype)
    return ops.logsumexp(values, axis=axis) - ops.log(count)


@MODELS.register("vae")
@keras.saving.register_keras_serializable(package="kerasae")
class VariationalAutoencoder(Autoencoder):
    """A VAE whose metrics include `neg_elbo` (nats per example, beta=1).

    It overrides four hooks of `Autoencoder`: `code_from_encoding` (the
    mean is the code), `loss_code` (the reparameterized sample),
    `regularizer` (the KL term, with warm-up and free bits) and `report`
    (the ELBO). With `iwae_samples > 1` `compute_losses` takes the
    importance-weighted bound instead and also reports `iwae_nll`.
    """

    is_variational = True
    is_generative = True

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        if self.config.kl_warmup_epochs > 0:
            # Set by `kerasae.training.schedules.KLWarmup`; 1 when evaluating a
            # finished run.
            self.kl_scale = keras.Variable(
                0.0, trainable=False, name="kl_scale")

    @property
    def uses_labels(self):
        """The conditional VAE decodes (code, label)."""
        return bool(self.config.conditional)

    @property
    def encoder_uses_labels(self):
        """... and encodes (x, label): q(z|x, y)."""
        return bool(self.config.conditional)

    def encoder_units(self):
        return 2 * self.latent_dim

    def metric_names(self):
        names = super().metric_names() + ["kl", "neg_elbo"]
        if self.config.iwae_samples > 1:
            names.append("iwae_nll")
        return names

    def split(self, encoding):
        """Returns (mean, log_var) from the encoder output."""
        return encoding[:, :self.latent_dim], encoding[:, self.latent_dim:]

    def encode_distribution(self, x, labels=None):
        """Mean and log-variance of q(z|x) (q(z|x, y): pass `labels`)."""
        return self.split(self.encoder(self.encoder_input(x, labels),
                                       training=False))

    def code_from_encoding(self, encoding, training):
        # The deterministic code is the mean; `loss_code` samples. The
        # warm-up applies in training only, so `regularizer` is told.
        mean, log_var = self.split(encoding)
        return mean, {"mean": mean, "log_var": log_var, "training": training}

    def loss_code(self, code, stats, training):
        # The ELBO needs a sampled code in evaluation too, so both modes
        # sample; only `encode`/`call` use the mean.
        return self.sample_code(stats["mean"], stats["log_var"])

    def report(self, terms):
        """The negative ELBO (beta = 1) in nats per example."""
        return {"neg_elbo": terms.reconstruction + terms.extra["kl"]}

    def sample_code(self, mean, log_var):
        """Reparameterized sample z = mean + sigma * eps."""
        eps = keras.random.normal(
            ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * log_var) * eps

    def kl_weight(self, training):
        """beta, times the warm-up scale while training."""
        if training and self.config.kl_warmup_epochs > 0:
            return self.config.beta * ops.cast(self.kl_scale, "float32")
        return self.config.beta

    def regularizer(self, code, stats):
        """beta * KL(q(z|x) || N(0, I)), analytic (Kingma and Welling 2014,
        Appendix B), times the warm-up scale in training; free bits when
        asked.

        Returns:
            (per_example, batch, extra) as in `Autoencoder.regularizer`;
            `extra["kl"]` is the plain analytic KL in nats.
        """
        mean, log_var = stats["mean"], stats["log_var"]
        kl = losses.gaussian_kl(mean, log_var)
        weight = self.kl_weight(stats.get("training", False))
        if self.config.free_bits > 0:
            # Kingma et al. (2016): max(lambda, E_batch[KL_j]) per unit, a
            # quantity of the whole global batch.
            per_unit = replicas.global_batch_mean(
                gaussian_kl_per_unit(mean, log_var))
            batch = weight * ops.sum(ops.maximum(
                per_unit, self.config.free_bits))
            return ops.zeros_like(kl), batch, {"kl": kl}
        return weight * kl, ops.zeros((), kl.dtype), {"kl": kl}

    def importance_log_weights(self, x, mean, log_var, samples, y=None,
                               training=False):
        """Log densities of `samples` draws z_i ~ q(z|x) per example.

        Args:
            x: a batch, shape (n, ...).
            mean, log_var: q(z|x) of the batch, shape (n, latent_dim).
            samples: draws per example.
            y: labels of models that decode (code, label), or None.
            training: decoder in training mode.

        Returns:
            (log_px, log_pz, log_qz), each of shape (samples, n):
            log p(x|z_i), log p(z_i) and log q(z_i|x); their sum
            log_px + log_pz - log_qz is the log importance weight of Burda
            et al. (2016), Eq. 8.
        """
        n = ops.shape(x)[0]
        xs = ops.tile(x, (samples,) + (1,) * (len(x.shape) - 1))
        ms = ops.tile(mean, (samples, 1))
        lvs = ops.tile(log_var, (samples, 1))
        ys = None if y is None else ops.tile(
            y, (samples,) + (1,) * (len(y.shape) - 1))
        z = self.sample_code(ms, lvs)
        raw = self.decode_logits(self.decoder_input(z, ys), training)
        log_px = -self.reconstruction_nll(xs, raw)
        log_pz = standard_normal_log_density(z)
        log_qz = gaussian_log_density(z, ms, lvs)
        return tuple(ops.reshape(v, (samples, n))
                     for v in (log_px, log_pz, log_qz))

    def compute_losses(self, x, y=None, training=False):
        if self.config.iwae_samples == 1:
            return super().compute_losses(x, y, training)
        encoding = self.encoder(self.encoder_input(
            self.corrupt_input(x, training), y), training=training)
        mean, log_var = self.split(encoding)
        return self.iwae_losses(x, y, mean, log_var, training)

    def iwae_losses(self, x, y, mean, log_var, training):
        """The negative IWAE bound -log p_k(x) as the loss (Burda et al.
        2016, Eq. 8; its gradient is their Eq. 14).

        The loss is split so that the metrics stay meaningful:
        `reconstruction` is the mean of -log p(x|z_i) over the k draws and
        `per_example` the rest of -log p_k(x). The KL weight (beta, warm-up)
        multiplies log p(z_i) - log q(z_i|x) in each log weight.
        """
        k = self.config.iwae_samples
        log_px, log_pz, log_qz = self.importance_log_weights(
            x, mean, log_var, k, y, training)
        weight = self.kl_weight(training)
        iwae_nll = -log_mean_exp(log_px + weight * (log_pz - log_qz))
        reconstruction = -ops.mean(log_px, axis=0)
        kl = losses.gaussian_kl(mean, log_var)
        # The reconstruction of the mean code, for the `mse` metric, which
        # only evaluation reports.
        output = None if training else self.output_activation(
            self.decode_logits(self.decoder_input(mean, y), False))
        return Losses(
            reconstruction=reconstruction,
            per_example=iwae_nll - reconstruction,
            batch=ops.zeros((), kl.dtype),
            reconstruction_output=output,
            extra={"kl": kl, "neg_elbo": reconstruction + kl,
                   "iwae_nll": -log_mean_exp(log_px + log_pz - log_qz)},
        )

    def reconstruction_nll(self, x, raw):
        if self.config.reconstruction_loss == "bce":
            return losses.bernoulli_nll(x, raw)
        return losses.gaussian_nll(x, self.output_activation(raw))
