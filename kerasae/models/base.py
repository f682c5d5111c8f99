"""The base autoencoder every model builds on.

One method, `compute_losses`, turns a batch into per-example losses; both
`train_step` and `test_step` call it. Variants override small hooks only
(the pattern of disentanglement_lib's `BaseVAE`):

- `corrupt_input`: what the encoder sees in training (denoising).
- `code_from_encoding`: encoder output -> code used for decoding
  (the VAE samples here, the sparse model applies its code activation).
- `regularizer`: per-example and whole-batch penalties (sparse, VAE).

Losses are averaged over the *global* batch with
`tf.nn.compute_average_loss` before gradients are taken, so training under
`tf.distribute` matches one device; metrics get unscaled per-example values.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kerasae.config import ModelConfig
from kerasae.models import layers as kae_layers
from kerasae.models import losses
from kerasae.models import replicas


class Losses:
    """Per-example loss terms of one batch.

    Attributes:
        reconstruction: (batch,) reconstruction loss.
        per_example: (batch,) regularization that belongs to each example.
        batch: scalar regularization of the whole (global) batch.
        reconstruction_output: the model-space reconstruction, for metrics.
        extra: name -> (batch,) values reported as metrics only.
    """

    def __init__(self, reconstruction, per_example, batch,
                 reconstruction_output, extra=None):
        self.reconstruction = reconstruction
        self.per_example = per_example
        self.batch = batch
        self.reconstruction_output = reconstruction_output
        self.extra = extra or {}


@keras.saving.register_keras_serializable(package="kerasae")
class Autoencoder(keras.Model):
    """A plain autoencoder, under- or overcomplete, dense or convolutional.

    Minimises the reconstruction loss of x from decoder(encoder(x)): binary
    cross-entropy (a Bernoulli likelihood, data in [0, 1]) or squared error.

    Args:
        config: a `ModelConfig`, or its `dataclasses.asdict` form, with
            `input_shape` filled in.
        **kwargs: passed to `keras.Model` (name, dtype, trainable).
    """

    uses_labels = False

    def __init__(self, config, **kwargs):
        if isinstance(config, dict):
            config = ModelConfig(**{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in config.items()
            })
        kwargs.setdefault("name", config.name)
        super().__init__(**kwargs)
        self.config = config
        self.input_shape_ = tuple(int(d) for d in config.input_shape)
        self.latent_dim = int(config.latent_dim)
        # Seeded from the global Keras seed (`keras.utils.set_random_seed`);
        # each replica of a strategy gets its own stream of draws.
        self.seed_generator = replicas.ReplicaSeedGenerator()
        self.encoder = kae_layers.build_encoder(
            self.input_shape_, config.arch, config.hidden_units,
            self.encoder_units(), config.activation)
        self.decoder = kae_layers.build_decoder(
            self.decoder_input_units(), self.input_shape_, config.arch,
            config.hidden_units, config.activation)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in self.metric_names()
        }
        self.built = True

    # ----------------------------------------------------------- hooks
    def encoder_units(self):
        """Width of the encoder output (the code by default)."""
        return self.latent_dim

    def decoder_input_units(self):
        """Width of the decoder input (the code by default)."""
        return self.latent_dim

    def metric_names(self):
        """Names of the metrics `train_step` and `test_step` report."""
        return ["loss", "reconstruction", "mse"]

    def corrupt_input(self, x, training):
        """Returns what the encoder sees; identity except for denoising."""
        return x

    def code_from_encoding(self, encoding, training):
        """Maps the encoder output to the code the decoder gets.

        Returns:
            (code, stats): `stats` is passed on to `regularizer`.
        """
        return encoding, {}

    def regularizer(self, code, stats):
        """Penalties on the code.

        Returns:
            (per_example, batch, extra): a (batch,) tensor, a scalar for
            quantities of the whole global batch, and extra metrics.
        """
        zeros = ops.zeros_like(code[:, 0])
        return zeros, ops.zeros((), code.dtype), {}

    # ------------------------------------------------------- the model
    def encode(self, x, training=False):
        """Deterministic code of `x` (the VAE's mean)."""
        return self.code_from_encoding(
            self.encoder(x, training=training), training=False)[0]

    def decode_logits(self, code, training=False):
        """Decoder output before the output activation."""
        return self.decoder(code, training=training)

    def decode(self, code, training=False):
        """Model-space reconstruction of `code`."""
        return self.output_activation(self.decode_logits(code, training))

    def output_activation(self, raw):
        if self.config.output_activation == "sigmoid":
            return ops.sigmoid(raw)
        return raw

    def call(self, x, training=False):
        """Deterministic reconstruction: decode(encode(x))."""
        return self.decode(self.encode(x, training), training)

    def reconstruction_nll(self, x, raw):
        """Per-example reconstruction loss from raw decoder outputs."""
        if self.config.reconstruction_loss == "bce":
            return losses.bernoulli_nll(x, raw)
        return losses.squared_error(x, self.output_activation(raw))

    def compute_losses(self, x, y=None, training=False):
        """Loss terms of one batch; shared by `train_step` and `test_step`.

        Args:
            x: clean batch in model space.
            y: labels, or None (used by supervised models).
            training: corrupt the input and update batch statistics.

        Returns:
            A `Losses`.
        """
        encoding = self.encoder(
            self.corrupt_input(x, training), training=training)
        code, stats = self.code_from_encoding(encoding, training=training)
        raw = self.decode_logits(self.decoder_input(code, y), training)
        per_example, batch, extra = self.regularizer(code, stats)
        return Losses(
            reconstruction=self.reconstruction_nll(x, raw),
            per_example=per_example,
            batch=batch,
            reconstruction_output=self.output_activation(raw),
            extra=extra,
        )

    def decoder_input(self, code, y):
        """What the decoder gets; supervised models append the label."""
        return code

    def scaled_loss(self, terms):
        """The loss to differentiate on one replica.

        Per-example terms are averaged over the global batch; the optimizer
        sums gradients over replicas, so a whole-batch term (identical on
        every replica) is divided by the number of replicas.
        """
        per_example = terms.reconstruction + terms.per_example
        return (tf.nn.compute_average_loss(per_example)
                + terms.batch / replicas.num_replicas())

    # ---------------------------------------------------- keras hooks
    @property
    def metrics(self):
        return list(self.trackers.values())

    def update_metrics(self, x, terms, training=False):
        """Updates the trackers; returns the values of those updated."""
        values = {
            "loss": terms.reconstruction + terms.per_example + terms.batch,
            "reconstruction": terms.reconstruction,
            **terms.extra,
        }
        if not training:
            # Evaluation only: in training it costs a pass over the
            # reconstruction that the loss does not need.
            values["mse"] = ops.mean(ops.reshape(
                ops.square(x - terms.reconstruction_output),
                (ops.shape(x)[0], -1)), axis=1)
        results = {}
        for name, tracker in self.trackers.items():
            if name in values:
                tracker.update_state(values[name])
                results[name] = tracker.result()
        return results

    @staticmethod
    def unpack(data):
        if isinstance(data, (tuple, list)):
            return data[0], (data[1] if len(data) > 1 else None)
        return data, None

    def train_step(self, data):
        x, y = self.unpack(data)
        with tf.GradientTape() as tape:
            terms = self.compute_losses(x, y, training=True)
            loss = self.scaled_loss(terms)
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.update_metrics(x, terms, training=True)

    def test_step(self, data):
        x, y = self.unpack(data)
        return self.update_metrics(
            x, self.compute_losses(x, y, training=False))

    # ----------------------------------------------------- serialising
    def get_config(self):
        return {
            "config": dataclasses.asdict(self.config),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
