"""The base autoencoder every model builds on.

One method, `compute_losses`, turns a batch into per-example losses; both
`train_step` and `test_step` call it. Variants override small hooks only
(the pattern of disentanglement_lib's `BaseVAE`):

- `corrupt_input`: what the encoder sees in training (denoising).
- `code_from_encoding`: encoder output -> deterministic code (the sparse
  model applies its code activation, the VAE takes the mean).
- `loss_code`: the code the loss decodes (the VAE samples z ~ q(z|x)).
- `regularizer`: per-example and whole-batch penalties (sparse, VAE).
- `report`: extra metrics from a batch's loss terms (the VAE's ELBO).

Losses are averaged over the *global* batch with
`tf.nn.compute_average_loss` before gradients are taken, so training under
`tf.distribute` matches one device; metrics get unscaled per-example values.
"""

import dataclasses
import math

import keras
import tensorflow as tf
from keras import ops

from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.models import layers as kae_layers
from kerasae.models import losses
from kerasae.models import replicas

# Where `save_own_variables` keeps the seed generator's state.
SEED_STATE = "seed_generator_state"


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


def model_config(config):
    """A `ModelConfig` from itself or its `dataclasses.asdict` form."""
    if isinstance(config, dict):
        config = ModelConfig(**{
            k: tuple(v) if isinstance(v, list) else v
            for k, v in config.items()
        })
    return config


class ConfiguredModel(keras.Model):
    """What every kerasae model shares: its `ModelConfig`, metric trackers,
    named optimizers, one gradient helper and serialization.

    Capabilities are class attributes that export, evaluation and the
    plots read instead of probing with `hasattr`:

    - `has_encoder`: maps inputs to codes (the GAN does not).
    - `is_generative`: can sample new data (`sample_prior` + `decode`).
    - `is_variational`: has a Gaussian q(z|x) (`encode_distribution`).
    - `uses_prior`: is pushed toward a prior p(z) (adversarial models).
    - `uses_labels`: the decoder takes the label (a property where the
      config decides: the supervised aae, the conditional vae).
    - `encoder_uses_labels`: the encoder takes it too (the conditional
      vae), so `encode` and every exported graph that encodes need it.
    - `can_classify`: `classify(x)` gives probabilities over categories
      (the categorical adversarial autoencoders: classes or clusters).
    - `uses_labelled_subset`: trains on a labelled subset of the training
      split beside the unlabelled whole (the semi-supervised aae).

    `optimizer_roles` maps each `compile` keyword to the `TrainConfig`
    learning-rate field and Adam `beta_1` (None: Adam's default) it is
    built with; `kerasae.training` builds them, `model.keras` keeps them.

    Args:
        config: a `ModelConfig`, or its dict, with `input_shape` filled in.
        **kwargs: passed to `keras.Model` (name, dtype, trainable).
    """

    has_encoder = True
    is_generative = False
    is_variational = False
    uses_prior = False
    uses_labels = False
    encoder_uses_labels = False
    can_classify = False
    uses_labelled_subset = False
    optimizer_roles = {"optimizer": ("learning_rate", None)}

    @classmethod
    def for_config(cls, config):
        """The class to build for `config` (a family with variants, such
        as the aae's `--aae_mode`, picks one)."""
        return cls

    def __init__(self, config, **kwargs):
        config = model_config(config)
        check_resolved(config)
        kwargs.setdefault("name", config.name)
        super().__init__(**kwargs)
        self.config = config
        self.input_shape_ = tuple(int(d) for d in config.input_shape)
        self.latent_dim = int(config.latent_dim)
        # Seeded from the global Keras seed (`keras.utils.set_random_seed`);
        # each replica of a strategy gets its own stream of draws.
        self.seed_generator = replicas.ReplicaSeedGenerator()

    def make_trackers(self):
        """One `Mean` per name of `metric_names()`."""
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in self.metric_names()
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def optimizer_variables(self, role):
        """The variables the optimizer of `role` updates."""
        return self.trainable_variables

    def descend(self, optimizer, variables, loss_fn):
        """One gradient step of `optimizer` on `variables`.

        Args:
            loss_fn: returns (scalar loss to differentiate, anything to
                hand back), computed under the tape.

        Returns:
            The second value of `loss_fn`.
        """
        with tf.GradientTape() as tape:
            loss, result = loss_fn()
        optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables))
        return result

    # ------------------------------------------------------ optimizers
    def default_optimizer(self, role):
        """Adam at `TrainConfig`'s default rate for `role`."""
        rate, beta_1 = self.optimizer_roles[role]
        return keras.optimizers.Adam(
            getattr(TrainConfig, rate), beta_1=beta_1 or 0.9)

    def compile(self, optimizer=None, **kwargs):
        """Compiles with one optimizer per role of `optimizer_roles`.

        Args:
            optimizer: the main optimizer.
            **kwargs: the other roles' optimizers (e.g.
                `discriminator_optimizer`), then `keras.Model.compile`'s.
        """
        others = {role: kwargs.pop(role, None)
                  for role in self.optimizer_roles if role != "optimizer"}
        super().compile(optimizer=keras.optimizers.get(
            optimizer or self.default_optimizer("optimizer")), **kwargs)
        for role, value in others.items():
            setattr(self, role, keras.optimizers.get(
                value or self.default_optimizer(role)))
        # Built on their own variables now, so `model.keras` restores every
        # optimizer's state.
        for role in self.optimizer_roles:
            getattr(self, role).build(self.optimizer_variables(role))

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {role: keras.optimizers.serialize(getattr(self, role))
                for role in self.optimizer_roles}

    def compile_from_config(self, config):
        """Recompiles from `get_compile_config` when `model.keras` loads.

        Also reads Keras's own compile config, which `model.keras` files
        of single-optimizer models written before held.
        """
        self.compile(**{
            role: keras.optimizers.deserialize(config[role])
            for role in self.optimizer_roles if config.get(role)})

    # ----------------------------------------------------- serialising
    def save_own_variables(self, store):
        """Keras's own variables, plus the random stream's state.

        The seed generator is no layer, so Keras would not save it: a
        resumed run would draw the noise and prior samples of epoch 0
        again instead of those an uninterrupted run draws next.
        """
        super().save_own_variables(store)
        store[SEED_STATE] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        """Reads `save_own_variables`' store (or one written without
        the random stream's state)."""
        keys = list(store.keys())
        if SEED_STATE in keys:
            self.seed_generator.state.assign(store[SEED_STATE])
        super().load_own_variables(
            {k: store[k] for k in keys if k != SEED_STATE})

    def get_config(self):
        return {
            "config": dataclasses.asdict(self.config),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_resolved(config):
    """Refuses a `ModelConfig` whose data-dependent fields are unset.

    `kerasae.training.resolve` (or `resolve_model_config`) fills them from
    the data; building without them would silently mean MSE with a linear
    output for data the model never saw.

    Raises:
        ConfigError: with the field to fill.
    """
    if not config.input_shape:
        raise ConfigError(
            "ModelConfig.input_shape is empty: resolve the config from the "
            "data first (kerasae.training.resolve(config, data))")
    for field in ("reconstruction_loss", "output_activation"):
        if getattr(config, field) == "auto":
            raise ConfigError(
                f"ModelConfig.{field}='auto' is unresolved: resolve the "
                "config from the data first (kerasae.training.resolve), "
                "or set it explicitly")


@keras.saving.register_keras_serializable(package="kerasae")
class Autoencoder(ConfiguredModel):
    """A plain autoencoder, under- or overcomplete, dense or convolutional.

    Minimises the reconstruction loss of x from decoder(encoder(x)): binary
    cross-entropy (a Bernoulli likelihood, data in [0, 1]) or squared error.

    Args:
        config: a `ModelConfig`, or its `dataclasses.asdict` form, with
            `input_shape` filled in.
        **kwargs: passed to `keras.Model` (name, dtype, trainable).
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        self.encoder = kae_layers.build_encoder(
            self.encoder_input_shape(), config.arch, config.hidden_units,
            self.encoder_units(), config.activation)
        self.decoder = kae_layers.build_decoder(
            self.decoder_input_units(), self.input_shape_, config.arch,
            config.hidden_units, config.activation)
        self.make_trackers()
        self.built = True

    # ----------------------------------------------------------- hooks
    def encoder_units(self):
        """Width of the encoder output (the code by default)."""
        return self.latent_dim

    def decoder_input_units(self):
        """Width of the decoder input: the code, plus the one-hot label
        when the decoder takes one."""
        return self.latent_dim + (self.label_units()
                                  if self.uses_labels else 0)

    def label_flag(self):
        """The flag that makes this model take labels (for messages)."""
        return "--conditional"

    def label_units(self):
        """The number of classes, refusing data without labels."""
        if self.config.num_classes < 1:
            raise ConfigError(
                f"{self.label_flag()} needs labelled data (num_classes is "
                f"0): use a dataset with labels or drop {self.label_flag()}")
        return int(self.config.num_classes)

    def encoder_input_shape(self):
        """Shape of what the encoder sees (`encoder_input`): one example,
        with the one-hot label appended as channels (conv, conv1d, lstm)
        or to the flattened example (dense) when the encoder takes it."""
        shape = self.input_shape_
        if not self.encoder_uses_labels:
            return shape
        if self.config.arch == "dense":
            return (math.prod(shape) + self.label_units(),)
        return shape[:-1] + (shape[-1] + self.label_units(),)

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

    def loss_code(self, code, stats, training):
        """The code the loss decodes; the VAE draws z ~ q(z|x) here.

        Args:
            code: `code_from_encoding`'s deterministic code.
            stats: its statistics (the VAE's mean and log-variance).
            training: whether this is a training step.
        """
        return code

    def report(self, terms):
        """Extra per-example metrics computed from a batch's `Losses`."""
        return {}

    def regularizer(self, code, stats):
        """Penalties on the code.

        Returns:
            (per_example, batch, extra): a (batch,) tensor, a scalar for
            quantities of the whole global batch, and extra metrics.
        """
        zeros = ops.zeros_like(code[:, 0])
        return zeros, ops.zeros((), code.dtype), {}

    # ------------------------------------------------------- the model
    def one_hot(self, labels):
        """Int labels (n,) -> float one-hot; (n, classes) passes through."""
        if len(labels.shape) == 2:
            return ops.cast(labels, "float32")
        return ops.one_hot(ops.cast(labels, "int32"),
                           self.config.num_classes)

    def _needs(self, labels, what):
        if labels is None:
            raise ValueError(
                f"this {self.config.name} ({self.label_flag()}) {what}: "
                "call model((x, labels)) or pass labels=")

    def encoder_input(self, x, labels):
        """What the encoder gets: `x`, with the one-hot label beside it
        when the encoder takes one (see `encoder_input_shape`)."""
        if not self.encoder_uses_labels:
            return x
        self._needs(labels, "encodes (x, label)")
        label = self.one_hot(labels)
        if self.config.arch == "dense":
            return ops.concatenate(
                [ops.reshape(x, (ops.shape(x)[0], -1)), label], axis=1)
        # One constant channel per class over every pixel or time step.
        shape = ops.shape(x)
        label = ops.reshape(label, (shape[0],) + (1,) * (len(x.shape) - 2)
                            + (label.shape[-1],))
        label = ops.broadcast_to(
            label, tuple(shape[:-1]) + (label.shape[-1],))
        return ops.concatenate([x, ops.cast(label, x.dtype)], axis=-1)

    def encode(self, x, training=False, labels=None):
        """Deterministic code of `x` (the VAE's mean); `labels` for a model
        whose encoder takes them (`encoder_uses_labels`)."""
        return self.code_from_encoding(
            self.encoder(self.encoder_input(x, labels), training=training),
            training=False)[0]

    def decode_logits(self, code, training=False):
        """Decoder output before the output activation."""
        return self.decoder(code, training=training)

    def decode(self, code, training=False, labels=None):
        """Model-space output for `code` (and `labels`, when the decoder
        takes them: `uses_labels`)."""
        return self.output_activation(self.decode_logits(
            self.decoder_input(code, labels), training))

    def output_activation(self, raw):
        if self.config.output_activation == "sigmoid":
            return ops.sigmoid(raw)
        return raw

    def call(self, inputs, training=False):
        """Deterministic reconstruction decode(encode(x)); a model that
        takes labels gets `inputs=(x, labels)` (or a dict `x`, `labels`).
        """
        x, labels = inputs, None
        if isinstance(inputs, dict):
            x, labels = inputs["x"], inputs.get("labels")
        elif isinstance(inputs, (tuple, list)):
            x, labels = inputs[0], (inputs[1] if len(inputs) > 1 else None)
        return self.decode(self.encode(x, training, labels=labels),
                           training, labels=labels)

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
        encoding = self.encoder(self.encoder_input(
            self.corrupt_input(x, training), y), training=training)
        code, stats = self.code_from_encoding(encoding, training=training)
        code = self.loss_code(code, stats, training)
        raw = self.decode_logits(self.decoder_input(code, y), training)
        per_example, batch, extra = self.regularizer(code, stats)
        terms = Losses(
            reconstruction=self.reconstruction_nll(x, raw),
            per_example=per_example,
            batch=batch,
            reconstruction_output=self.output_activation(raw),
            extra=extra,
        )
        terms.extra.update(self.report(terms))
        return terms

    def decoder_input(self, code, y):
        """What the decoder gets: the code, with the one-hot label appended
        when the decoder takes one (`uses_labels`)."""
        if not self.uses_labels:
            return code
        self._needs(y, "decodes (code, label)")
        return ops.concatenate([code, self.one_hot(y)], axis=1)

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

        def loss_fn():
            terms = self.compute_losses(x, y, training=True)
            return self.scaled_loss(terms), terms

        terms = self.descend(self.optimizer, self.trainable_variables,
                             loss_fn)
        return self.update_metrics(x, terms, training=True)

    def test_step(self, data):
        x, y = self.unpack(data)
        return self.update_metrics(
            x, self.compute_losses(x, y, training=False))
