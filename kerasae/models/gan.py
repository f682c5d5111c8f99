"""Generative adversarial network (Goodfellow et al. 2014), for comparison.

The generator has the autoencoder's *decoder* architecture and maps prior
noise z ~ p(z) (any registered prior, `--prior`) to data; the discriminator
has the *encoder* architecture with one logit. Both use the non-saturating
losses of `kerasae.models.adversarial`, averaged over the global batch with
`tf.nn.compute_average_loss`. Each batch: one discriminator update, then one
generator update, with Adam(beta_1=0.5) as DCGAN recommends (Radford et al.
2016, Section 4).

A GAN has no encoder. `decode(z)` is the generator (what an exporter
serves) and `generate(n)` samples it. `call(x)` returns one deterministic
generated sample per row of `x` (a fixed-seed prior draw), so the model
keeps the `keras.Model` shape contract of the other models; it never
reconstructs `x`.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.evaluation import prior_match
from kerasae.models import layers as kae_layers
from kerasae.models import priors
from kerasae.models import replicas
from kerasae.models.adversarial import discriminator_accuracy
from kerasae.models.adversarial import discriminator_loss
from kerasae.models.adversarial import generator_loss
from kerasae.registry import MODELS
from kerasae.training import optimizers

# The fixed seed of `call`'s prior draw.
CALL_SEED = 1234


def batch_mmd(a, b):
    """Biased squared MMD between two batches, as a tensor.

    Gretton et al. (2012), Eq. 5, with a Gaussian kernel whose 2 h^2 is the
    mean squared distance within `a` (the data), so the scale follows it.
    """
    a = ops.reshape(a, (ops.shape(a)[0], -1))
    b = ops.reshape(b, (ops.shape(b)[0], -1))

    def squared(u, v):
        return ops.maximum(
            ops.sum(u * u, 1)[:, None] + ops.sum(v * v, 1)[None, :]
            - 2.0 * ops.matmul(u, ops.transpose(v)), 0.0)

    within = squared(a, a)
    scale = ops.maximum(ops.mean(within), 1e-6)
    return (ops.mean(ops.exp(-within / scale))
            + ops.mean(ops.exp(-squared(b, b) / scale))
            - 2.0 * ops.mean(ops.exp(-squared(a, b) / scale)))


@MODELS.register("gan")
@keras.saving.register_keras_serializable(package="kerasae")
class GenerativeAdversarialNetwork(keras.Model):
    """A GAN built from the autoencoder's decoder and encoder architectures.

    Args:
        config: a `ModelConfig` (or its dict) with `input_shape` filled in.
        **kwargs: passed to `keras.Model`.
    """

    uses_labels = False
    uses_prior = True
    # A GAN has no reconstruction; the generic tests watch this metric fall.
    progress_metric = "sample_mmd"

    def __init__(self, config, **kwargs):
        if isinstance(config, dict):
            config = ModelConfig(**{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in config.items()})
        kwargs.setdefault("name", config.name)
        super().__init__(**kwargs)
        self.config = config
        self.latent_dim = int(config.latent_dim)
        shape = tuple(int(d) for d in config.input_shape)
        self.prior = priors.build(
            config.prior, self.latent_dim, config.prior_params)
        # Each replica draws its own noise under tf.distribute.
        self.seed_generator = replicas.ReplicaSeedGenerator()
        self.generator = kae_layers.build_decoder(
            self.latent_dim, shape, config.arch, config.hidden_units,
            config.activation, name="generator")
        self.discriminator = kae_layers.build_encoder(
            shape, config.arch, config.hidden_units, 1, config.activation,
            name="discriminator")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            "discriminator_loss", "discriminator_accuracy", "generator_loss",
            "sample_mmd")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def sample_prior(self, n, labels=None, seed=None):
        """n samples of the prior."""
        return self.prior.sample(
            n, self.seed_generator if seed is None else seed)

    def decode(self, code, training=False):
        """The generator: model-space output for noise `code`."""
        raw = self.generator(code, training=training)
        if self.config.output_activation == "sigmoid":
            return ops.sigmoid(raw)
        return raw

    def generate(self, n, seed=None):
        """n generated examples."""
        return self.decode(self.sample_prior(n, seed=seed))

    def call(self, x, training=False):
        """One fixed-seed generated sample per row of `x` (deterministic)."""
        return self.decode(self.sample_prior(ops.shape(x)[0], seed=CALL_SEED))

    # ------------------------------------------------------- the phases
    def discriminator_phase(self, x):
        """Updates the discriminator: data real, generated fake."""
        fake = ops.stop_gradient(
            self.decode(self.sample_prior(ops.shape(x)[0]), training=True))
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(x, training=True)
            fake_logits = self.discriminator(fake, training=True)
            per_example = discriminator_loss(real_logits, fake_logits)
            loss = tf.nn.compute_average_loss(per_example)
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables))
        return per_example, discriminator_accuracy(real_logits, fake_logits)

    def generator_phase(self, n):
        """Updates the generator on the non-saturating loss.

        Returns:
            (per-example loss, the generated batch).
        """
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.decode(self.sample_prior(n), training=True)
            per_example = generator_loss(
                self.discriminator(fake, training=True))
            loss = tf.nn.compute_average_loss(per_example)
        self.optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables))
        return per_example, fake

    def report(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        d_loss, d_accuracy = self.discriminator_phase(x)
        g_loss, fake = self.generator_phase(ops.shape(x)[0])
        return self.report({
            "discriminator_loss": d_loss, "discriminator_accuracy": d_accuracy,
            "generator_loss": g_loss,
            "sample_mmd": batch_mmd(x, ops.stop_gradient(fake))})

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        fake = self.decode(self.sample_prior(ops.shape(x)[0]))
        real_logits, fake_logits = self.discriminator(x), \
            self.discriminator(fake)
        return self.report({
            "discriminator_loss": discriminator_loss(real_logits, fake_logits),
            "discriminator_accuracy": discriminator_accuracy(
                real_logits, fake_logits),
            "generator_loss": generator_loss(fake_logits),
            "sample_mmd": batch_mmd(x, fake)})

    # ------------------------------------------------------ optimizers
    def compile(self, optimizer=None, discriminator_optimizer=None, **kwargs):
        """Compiles with the generator's and the discriminator's optimizers.

        Args:
            optimizer: the generator's (default Adam(1e-4, beta_1=0.5)).
            discriminator_optimizer: default: a copy of `optimizer`.
            **kwargs: passed to `keras.Model.compile`.
        """
        optimizer = keras.optimizers.get(optimizer or optimizers.Adam(
            TrainConfig.generator_learning_rate, beta_1=0.5))
        super().compile(optimizer=optimizer, **kwargs)
        # Without its own optimizer the discriminator gets a copy of the
        # generator's: with a much slower discriminator the generator
        # chases a stale critic and collapses.
        self.discriminator_optimizer = keras.optimizers.get(
            discriminator_optimizer
            or type(optimizer).from_config(optimizer.get_config()))
        self.optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(
            self.discriminator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {name: keras.optimizers.serialize(getattr(self, name))
                for name in ("optimizer", "discriminator_optimizer")}

    def compile_for_training(self, train_config):
        """Compiles with the generator and discriminator rates of a
        `TrainConfig` (`kerasae.training` calls this instead of `compile`).
        """
        t = train_config
        self.compile(
            optimizer=optimizers.Adam(
                t.generator_learning_rate, beta_1=0.5),
            discriminator_optimizer=optimizers.Adam(
                t.discriminator_learning_rate, beta_1=0.5),
            steps_per_execution=t.steps_per_execution,
            jit_compile=t.jit_compile)

    def compile_from_config(self, config):
        """Recompiles from `get_compile_config` when `model.keras` loads."""
        self.compile(**{name: keras.optimizers.deserialize(value)
                        for name, value in config.items()})

    def evaluation_metrics(self, x, y=None, max_points=2000, seed=0):
        """MMD between up to `max_points` examples and as many samples."""
        x = x[:max_points]
        fake = keras.ops.convert_to_numpy(self.generate(
            len(x), seed=keras.random.SeedGenerator(seed)))
        flat = x.reshape(len(x), -1)
        return {"sample_mmd": prior_match.mmd(
            fake.reshape(len(x), -1), flat)}

    def get_config(self):
        return {"config": dataclasses.asdict(self.config), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
