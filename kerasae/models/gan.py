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

import keras
import tensorflow as tf
from keras import ops

from kerasae.models import layers as kae_layers
from kerasae.models import priors
from kerasae.models.adversarial import discriminator_accuracy
from kerasae.models.adversarial import discriminator_loss
from kerasae.models.adversarial import generator_loss
from kerasae.models.base import ConfiguredModel
from kerasae.registry import MODELS

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
class GenerativeAdversarialNetwork(ConfiguredModel):
    """A GAN built from the autoencoder's decoder and encoder architectures.

    Args:
        config: a `ModelConfig` (or its dict) with `input_shape` filled in.
        **kwargs: passed to `keras.Model`.
    """

    has_encoder = False
    is_generative = True
    uses_prior = True
    # A GAN has no reconstruction; the generic tests watch this metric fall.
    progress_metric = "sample_mmd"
    # Adam(beta_1 = 0.5) for both players, as DCGAN recommends (Radford
    # et al. 2016, Section 4).
    optimizer_roles = {
        "optimizer": ("generator_learning_rate", 0.5),
        "discriminator_optimizer": ("discriminator_learning_rate", 0.5),
    }

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        self.prior = priors.build(
            config.prior, self.latent_dim, config.prior_params)
        self.generator = kae_layers.build_decoder(
            self.latent_dim, self.input_shape_, config.arch,
            config.hidden_units, config.activation, name="generator")
        self.discriminator = kae_layers.build_encoder(
            self.input_shape_, config.arch, config.hidden_units, 1,
            config.activation, name="discriminator")
        self.make_trackers()
        self.built = True

    def metric_names(self):
        return ["discriminator_loss", "discriminator_accuracy",
                "generator_loss", "sample_mmd"]

    def optimizer_variables(self, role):
        if role == "discriminator_optimizer":
            return self.discriminator.trainable_variables
        return self.generator.trainable_variables

    def default_optimizer(self, role):
        if role == "discriminator_optimizer" and self.optimizer is not None:
            # Without its own optimizer the discriminator gets a copy of
            # the generator's: with a much slower discriminator the
            # generator chases a stale critic and collapses.
            return type(self.optimizer).from_config(
                self.optimizer.get_config())
        return super().default_optimizer(role)

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

        def loss_fn():
            real_logits = self.discriminator(x, training=True)
            fake_logits = self.discriminator(fake, training=True)
            per_example = discriminator_loss(real_logits, fake_logits)
            return tf.nn.compute_average_loss(per_example), (
                per_example,
                discriminator_accuracy(real_logits, fake_logits))

        return self.descend(
            self.discriminator_optimizer,
            self.optimizer_variables("discriminator_optimizer"), loss_fn)

    def generator_phase(self, n):
        """Updates the generator on the non-saturating loss.

        Returns:
            (per-example loss, the generated batch).
        """
        def loss_fn():
            fake = self.decode(self.sample_prior(n), training=True)
            per_example = generator_loss(
                self.discriminator(fake, training=True))
            return tf.nn.compute_average_loss(per_example), (
                per_example, fake)

        return self.descend(self.optimizer,
                            self.optimizer_variables("optimizer"), loss_fn)

    def update_trackers(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        d_loss, d_accuracy = self.discriminator_phase(x)
        g_loss, fake = self.generator_phase(ops.shape(x)[0])
        return self.update_trackers({
            "discriminator_loss": d_loss, "discriminator_accuracy": d_accuracy,
            "generator_loss": g_loss,
            "sample_mmd": batch_mmd(x, ops.stop_gradient(fake))})

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        fake = self.decode(self.sample_prior(ops.shape(x)[0]))
        real_logits, fake_logits = self.discriminator(x), \
            self.discriminator(fake)
        return self.update_trackers({
            "discriminator_loss": discriminator_loss(real_logits, fake_logits),
            "discriminator_accuracy": discriminator_accuracy(
                real_logits, fake_logits),
            "generator_loss": generator_loss(fake_logits),
            "sample_mmd": batch_mmd(x, fake)})
