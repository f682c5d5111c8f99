"""Deterministic autoencoders: plain, denoising and sparse.

Each is the base `Autoencoder` with one hook overridden.
"""

import keras
from keras import ops

from kerasae.models import layers as kae_layers
from kerasae.models import losses
from kerasae.models import replicas
from kerasae.models.base import Autoencoder
from kerasae.registry import MODELS

MODELS.register("ae", Autoencoder)


@MODELS.register("dae")
@keras.saving.register_keras_serializable(package="kerasae")
class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder (Vincent et al. 2008).

    The input is corrupted in training only (`noise`: Gaussian with sigma
    `noise_level` clipped to the data range, masking, or salt-and-pepper);
    the loss compares the reconstruction with the *clean* input.
    """

    def corrupt_input(self, x, training):
        if not training or self.config.noise_level == 0:
            return x
        return kae_layers.corrupt(
            x, self.config.noise, self.config.noise_level,
            self.config.data_range, self.seed_generator)


@MODELS.register("sparse_ae")
@keras.saving.register_keras_serializable(package="kerasae")
class SparseAutoencoder(Autoencoder):
    """Sparse autoencoder.

    With `sparsity="kl"` the code units are sigmoids and the penalty is
    beta * sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation of unit
    j over the global batch (Ng, CS294A notes, Section 2.2). With
    `sparsity="l1"` the code units are ReLUs and the penalty is
    beta * ||h||_1 per example (an L1 activity regularizer).
    """

    def metric_names(self):
        return super().metric_names() + ["sparsity_penalty", "mean_activation"]

    def code_from_encoding(self, encoding, training):
        if self.config.sparsity == "kl":
            return ops.sigmoid(encoding), {}
        return ops.relu(encoding), {}

    def regularizer(self, code, stats):
        weight = self.config.sparsity_weight
        mean_activation = ops.mean(code, axis=1)
        if self.config.sparsity == "kl":
            rho_hat = replicas.global_batch_mean(code)
            penalty = weight * losses.sparsity_kl(
                self.config.sparsity_target, rho_hat)
            zeros = ops.zeros_like(code[:, 0])
            return zeros, penalty, {
                "sparsity_penalty": zeros + penalty,
                "mean_activation": mean_activation,
            }
        per_example = weight * ops.sum(ops.abs(code), axis=1)
        return per_example, ops.zeros((), code.dtype), {
            "sparsity_penalty": per_example,
            "mean_activation": mean_activation,
        }
