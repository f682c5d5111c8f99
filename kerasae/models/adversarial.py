"""Adversarial autoencoder (Makhzani et al. 2015, "Adversarial Autoencoders").

Each batch trains in two phases (their Section 2):

1. reconstruction: encoder and decoder minimise the reconstruction loss;
2. regularization: a discriminator learns to tell samples of the prior p(z)
   ("real") from codes q(z|x) of the batch ("fake"), then the encoder, as
   the generator, learns to fool it.

Three Adam optimizers, one per update. Every per-example loss is averaged
over the *global* batch with `tf.nn.compute_average_loss`, so training under
`tf.distribute` matches one device; metrics get unscaled values.

With `supervised=True` the decoder also gets the one-hot label, so the code
carries only style (their Section 5). For a label-conditional prior (the
mixture) the prior sample of example i is then drawn from component y_i and
the discriminator sees the one-hot label too (their Section 2.3, Figure 3).
`call` then takes `(x, labels)`; `encode(x)` and
`decode(code, labels=...)` are the exportable pieces.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasae.errors import ConfigError
from kerasae.models import matmul
from kerasae.models import priors
from kerasae.models.base import Autoencoder
from kerasae.registry import MODELS

# `--aae_mode` -> its class; `kerasae.models.adversarial_categorical` adds
# `semi_supervised` and `clustering`.
MODES = {}


def discriminator_loss(real_logits, fake_logits):
    """-log D(real) - log(1 - D(fake)) per example, from logits.

    The discriminator's side of the minimax game of Goodfellow et al.
    (2014), Eq. 1; Makhzani et al. (2015), Section 2, use it on codes.
    """
    return (ops.softplus(-real_logits) + ops.softplus(fake_logits))[:, 0]


def generator_loss(fake_logits):
    """Non-saturating generator loss -log D(fake) per example.

    Goodfellow et al. (2014), Section 3: maximising log D(G(z)) instead of
    minimising log(1 - D(G(z))) gives strong gradients early in training.
    """
    return ops.softplus(-fake_logits)[:, 0]


def discriminator_accuracy(real_logits, fake_logits):
    """Per-example share of the two decisions (real, fake) that are right."""
    right = (ops.cast(real_logits > 0, "float32")
             + ops.cast(fake_logits < 0, "float32"))
    return 0.5 * right[:, 0]


def build_discriminator(input_units, hidden_units, activation,
                        name="discriminator"):
    """A dense discriminator producing one logit."""
    stack = [keras.Input(shape=(int(input_units),))]
    stack += [matmul.dense(int(u), activation=activation)
              for u in hidden_units]
    stack.append(matmul.dense(1, name="logit"))
    return keras.Sequential(stack, name=name)


def validate_config(config):
    """Checks the adversarial settings of a `Config` before data loads.

    Raises:
        ConfigError: unknown prior, bad prior parameters, or a
            non-positive discriminator size or learning rate.
    """
    m, t = config.model, config.train
    priors.build(m.prior, m.latent_dim, m.prior_params)
    if not m.discriminator_units or any(int(u) <= 0
                                        for u in m.discriminator_units):
        raise ConfigError(
            f"--discriminator_units={','.join(map(str, m.discriminator_units))}"
            ": give positive sizes, e.g. --discriminator_units=512,512")
    for flag in ("discriminator_learning_rate", "generator_learning_rate"):
        if not getattr(t, flag) > 0:
            raise ConfigError(
                f"--{flag}={getattr(t, flag)}: must be greater than 0")


@MODELS.register("aae")
@keras.saving.register_keras_serializable(package="kerasae")
class AdversarialAutoencoder(Autoencoder):
    """Adversarial autoencoder with a pluggable prior (`config.prior`)."""

    uses_prior = True
    is_generative = True
    # beta_1 = 0.5 for the two adversarial updates: less momentum keeps the
    # two players from overshooting each other (Radford et al. 2016,
    # DCGAN, Section 4).
    optimizer_roles = {
        "optimizer": ("learning_rate", None),
        "discriminator_optimizer": ("discriminator_learning_rate", 0.5),
        "generator_optimizer": ("generator_learning_rate", 0.5),
    }

    @classmethod
    def for_config(cls, config):
        return MODES.get(getattr(config, "aae_mode", "standard"), cls)

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        self.prior = priors.build(
            config.prior, self.latent_dim, config.prior_params)
        # The discriminator sees the label only when it picks the component.
        self.label_to_discriminator = (
            self.uses_labels and self.prior.label_conditional)
        if self.label_to_discriminator and \
                config.num_classes > self.prior.params["k"]:
            raise ConfigError(
                f"--prior={config.prior} with --aae_supervised needs k >= the "
                f"{config.num_classes} classes; got k={self.prior.params['k']}")
        self.discriminator = build_discriminator(
            self.latent_dim + (config.num_classes
                               if self.label_to_discriminator else 0),
            config.discriminator_units, config.activation)

    @property
    def uses_labels(self):
        """The supervised model decodes (code, label)."""
        return bool(self.config.supervised)

    def optimizer_variables(self, role):
        if role == "discriminator_optimizer":
            return self.discriminator.trainable_variables
        if role == "generator_optimizer":
            return self.encoder.trainable_variables
        return (self.encoder.trainable_variables
                + self.decoder.trainable_variables)

    def label_flag(self):
        return "--aae_supervised"

    def metric_names(self):
        return super().metric_names() + [
            "discriminator_loss", "discriminator_accuracy", "generator_loss"]

    # ------------------------------------------------------- the model
    def sample_prior(self, n, labels=None, seed=None):
        """n samples of p(z) (component y_i for the supervised mixture)."""
        labels = labels if self.label_to_discriminator else None
        return self.prior.sample(
            n, self.seed_generator if seed is None else seed, labels)

    def discriminate(self, code, labels, training=False):
        """Discriminator logits (n, 1) of codes (and labels, if used)."""
        if self.label_to_discriminator:
            code = ops.concatenate([code, self.one_hot(labels)], axis=1)
        return self.discriminator(code, training=training)

    # ------------------------------------------------------- the phases
    def reconstruction_phase(self, x, y=None):
        """Updates encoder and decoder on the reconstruction loss.

        Returns:
            The batch's `Losses`.
        """
        def loss_fn():
            terms = self.compute_losses(x, y, training=True)
            return self.scaled_loss(terms), terms

        return self.descend(self.optimizer,
                            self.optimizer_variables("optimizer"), loss_fn)

    def discriminator_phase(self, x, y=None):
        """Updates the discriminator: prior samples real, codes fake.

        Returns:
            (per-example loss, per-example accuracy).
        """
        code = ops.stop_gradient(self.encode(x, training=True))
        sample = self.sample_prior(ops.shape(code)[0], y)
        def loss_fn():
            real = self.discriminate(sample, y, training=True)
            fake = self.discriminate(code, y, training=True)
            per_example = discriminator_loss(real, fake)
            return tf.nn.compute_average_loss(per_example), (
                per_example, discriminator_accuracy(real, fake))

        return self.descend(
            self.discriminator_optimizer,
            self.optimizer_variables("discriminator_optimizer"), loss_fn)

    def generator_phase(self, x, y=None):
        """Updates the encoder, as generator, to fool the discriminator.

        Returns:
            The per-example generator loss.
        """
        def loss_fn():
            code = self.encode(x, training=True)
            per_example = generator_loss(self.discriminate(code, y))
            return tf.nn.compute_average_loss(per_example), per_example

        return self.descend(
            self.generator_optimizer,
            self.optimizer_variables("generator_optimizer"), loss_fn)

    def train_step(self, data):
        x, y = self.unpack(data)
        terms = self.reconstruction_phase(x, y)
        d_loss, d_accuracy = self.discriminator_phase(x, y)
        g_loss = self.generator_phase(x, y)
        terms.extra.update(discriminator_loss=d_loss, generator_loss=g_loss,
                           discriminator_accuracy=d_accuracy)
        return self.update_metrics(x, terms, training=True)

    def test_step(self, data):
        x, y = self.unpack(data)
        terms = self.compute_losses(x, y, training=False)
        code = self.encode(x)
        real = self.discriminate(self.sample_prior(ops.shape(code)[0], y), y)
        fake = self.discriminate(code, y)
        terms.extra.update(
            discriminator_loss=discriminator_loss(real, fake),
            generator_loss=generator_loss(fake),
            discriminator_accuracy=discriminator_accuracy(real, fake))
        return self.update_metrics(x, terms)
