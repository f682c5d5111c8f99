"""Vector-quantised VAE (van den Oord, Vinyals and Kavukcuoglu 2017).

The encoder output z_e(x) is cut into `latent_dim` vectors of
`vq_embedding_dim` values; each is replaced by its nearest entry e_k of a
learned codebook of `vq_codebook_size` vectors (their Eq. 1 and 2), and the
decoder sees the concatenated entries. The code of an example is the
`latent_dim` integer indices k: `encode` returns them, `decode` takes them,
and so do the exported `encode` and `decode` signatures.

The loss is their Eq. 3, per example:

    -log p(x | z_q(x)) + ||sg[z_e(x)] - e||^2 + beta ||z_e(x) - sg[e]||^2,

the first term through the straight-through estimator z_e + sg[z_q - z_e]
(the decoder's gradient is copied to the encoder), the second moving the
codebook towards the encodings, the third (the commitment loss, beta =
`commitment_cost`, 0.25 in the paper) keeping the encodings near their
entries. `perplexity`, exp of the entropy of the codebook's usage over the
global batch, says how many entries are in use (the codebook size at best).
The keras-io example "Vector-Quantized Variational Autoencoders" (Paul
2021) computes the same loss with means instead of sums.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasae.models import replicas
from kerasae.models.base import Autoencoder
from kerasae.models.base import Losses
from kerasae.registry import MODELS


def perplexity(probabilities):
    """exp(-sum_k p_k log p_k) of a distribution over codebook entries."""
    p = ops.maximum(probabilities, 1e-10)
    return ops.exp(-ops.sum(probabilities * ops.log(p)))


@MODELS.register("vqvae")
@keras.saving.register_keras_serializable(package="kerasae")
class VQVAE(Autoencoder):
    """A VQ-VAE whose code is `latent_dim` codebook indices (int32).

    Its default anomaly score is the reconstruction loss: the codes are
    categories, so a Gaussian model of them (`code_mahalanobis`) means
    nothing.
    """

    code_dtype = "int32"
    default_anomaly_score = "reconstruction_nll"

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        # Entries start on the scale of fresh encoder outputs (Glorot
        # initialised dense layers give values of order 1).
        self.codebook = self.add_weight(
            shape=(int(self.config.vq_codebook_size),
                   int(self.config.vq_embedding_dim)),
            initializer=keras.initializers.RandomUniform(-1.0, 1.0),
            name="codebook")

    def encoder_units(self):
        return self.latent_dim * int(self.config.vq_embedding_dim)

    def decoder_input_units(self):
        return self.encoder_units()

    def metric_names(self):
        return super().metric_names() + ["vq_loss", "commitment",
                                         "perplexity"]

    # ------------------------------------------------------ quantizing
    def vectors(self, encoding):
        """z_e(x) as (batch, latent_dim, embedding_dim)."""
        return ops.reshape(encoding, (-1, self.latent_dim,
                                      int(self.config.vq_embedding_dim)))

    def nearest(self, vectors):
        """Index of the nearest codebook entry of each vector (Eq. 2)."""
        codebook = ops.cast(self.codebook, vectors.dtype)
        distances = (
            ops.sum(ops.square(vectors), axis=-1, keepdims=True)
            - 2.0 * ops.einsum("bld,kd->blk", vectors, codebook)
            + ops.sum(ops.square(codebook), axis=-1))
        # tf.argmin, not ops.argmin: Keras's adds a signed-zero fix-up
        # (a BitwiseAnd) that TFLite has no builtin kernel for.
        return tf.math.argmin(distances, axis=-1, output_type=tf.int32)

    def lookup(self, indices):
        """The codebook entries of `indices`, flattened for the decoder."""
        entries = ops.take(self.codebook, ops.cast(indices, "int32"), axis=0)
        return ops.reshape(entries, (-1, self.encoder_units()))

    # ------------------------------------------------------- the model
    def encode(self, x, training=False, labels=None):
        """Codebook indices of `x`, int32 of shape (batch, latent_dim);
        `labels` is ignored (the encoder takes none)."""
        return self.nearest(self.vectors(self.encoder(x, training=training)))

    def decode_logits(self, code, training=False):
        """Decoder output of codebook indices `code`."""
        return self.decoder(self.lookup(code), training=training)

    def compute_losses(self, x, y=None, training=False):
        z_e = self.encoder(self.corrupt_input(x, training), training=training)
        vectors = self.vectors(z_e)
        indices = self.nearest(vectors)
        z_q = self.lookup(indices)
        # Eq. 3: the codebook term moves e, the commitment term z_e.
        vq_loss = ops.sum(ops.square(ops.stop_gradient(z_e) - z_q), axis=1)
        commitment = ops.sum(
            ops.square(z_e - ops.stop_gradient(z_q)), axis=1)
        # Straight-through: forward z_q, backward the identity to z_e.
        raw = self.decoder(z_e + ops.stop_gradient(z_q - z_e),
                           training=training)
        usage = replicas.global_batch_mean(ops.mean(ops.one_hot(
            indices, int(self.config.vq_codebook_size), dtype=z_e.dtype),
            axis=1))
        zeros = ops.zeros_like(vq_loss)
        return Losses(
            reconstruction=self.reconstruction_nll(x, raw),
            per_example=vq_loss + self.config.commitment_cost * commitment,
            batch=ops.zeros((), vq_loss.dtype),
            reconstruction_output=self.output_activation(raw),
            extra={"vq_loss": vq_loss, "commitment": commitment,
                   "perplexity": zeros + perplexity(usage)},
        )

    def codebook_usage(self, x, batch_size=512):
        """Codebook usage on a whole split: perplexity and entries used."""
        counts = np.zeros(int(self.config.vq_codebook_size))
        for i in range(0, len(x), batch_size):
            codes = keras.ops.convert_to_numpy(
                self.encode(ops.convert_to_tensor(x[i:i + batch_size])))
            counts += np.bincount(codes.ravel(), minlength=len(counts))
        p = counts / counts.sum()
        used = p > 0
        return {
            "codebook_perplexity": float(np.exp(-np.sum(
                p[used] * np.log(p[used])))),
            "codebook_entries_used": int(used.sum()),
        }
