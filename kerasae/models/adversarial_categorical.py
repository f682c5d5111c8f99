"""Adversarial autoencoders with a categorical code: semi-supervised
classification and unsupervised clustering (Makhzani et al. 2015,
"Adversarial Autoencoders", Sections 5 and 6, Figure 8).

The encoder gives two codes: a categorical y = softmax(logits) over K
categories (the class, or the cluster) and a continuous style z of
`latent_dim` units. The decoder reconstructs x from (y, z). The model's
code, what `encode` returns and `decode` takes, is their concatenation
[y, z], of width K + `latent_dim`.

Each batch trains in phases:

1. reconstruction: encoder and decoder on the reconstruction loss;
2. regularization: two discriminators learn to tell one-hot samples of
   Cat(K) from y and samples of the style prior (`--prior`) from z, then
   the encoder, as the generator, learns to fool both;
3. semi-supervised classification (`semi_supervised` only): the encoder's
   q(y|x) is trained with the cross-entropy of a batch of the labelled
   subset (`kerasae.training.labelled.choose`).

Clustering is the same model without the third phase, with K clusters.
Every per-example loss is averaged over the global batch with
`tf.nn.compute_average_loss`, so `tf.distribute` matches one device.
"""

import keras
import tensorflow as tf
from keras import ops

from kerasae.errors import ConfigError
from kerasae.models import adversarial
from kerasae.models import priors
from kerasae.models.base import Autoencoder


class CategoricalStylePrior:
    """p(y, z) = Cat(K) x p(z): one-hot categories beside style samples.

    Quacks like a `kerasae.models.priors.Prior` of width K + style, so the
    prior-match figures and the exported `sample` work on the whole code.
    A label picks the category (`sample(labels=...)`).
    """

    label_conditional = False

    def __init__(self, categories, style):
        self.categories = int(categories)
        self.style = style
        self.latent_dim = self.categories + style.latent_dim

    def sample_categories(self, n, seed, labels=None):
        """(n, K) one-hot draws of Cat(K), or of `labels` when given."""
        if labels is None:
            labels = keras.random.randint((n,), 0, self.categories,
                                          seed=seed)
        return ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"),
                           self.categories)

    def sample(self, n, seed, labels=None):
        return ops.concatenate([self.sample_categories(n, seed, labels),
                                self.style.sample(n, seed)], axis=1)


@keras.saving.register_keras_serializable(package="kerasae")
class ClusteringAdversarialAutoencoder(adversarial.AdversarialAutoencoder):
    """Unsupervised clustering AAE (Makhzani et al. 2015, Section 6).

    `classify(x)` gives q(y|x) over `config.clusters` clusters.
    """

    can_classify = True

    def __init__(self, config, **kwargs):
        # The plain AAE's constructor builds one discriminator over the
        # whole code; this model builds two, so it starts one level up.
        Autoencoder.__init__(self, config, **kwargs)
        config = self.config
        self.style_dim = int(config.latent_dim)
        self.latent_dim = self.categories + self.style_dim
        self.prior = CategoricalStylePrior(self.categories, priors.build(
            config.prior, self.style_dim, config.prior_params))
        self.label_to_discriminator = False
        self.category_discriminator = adversarial.build_discriminator(
            self.categories, config.discriminator_units, config.activation,
            name="category_discriminator")
        self.style_discriminator = adversarial.build_discriminator(
            self.style_dim, config.discriminator_units, config.activation,
            name="style_discriminator")

    @property
    def categories(self):
        """K: the clusters (or, semi-supervised, the classes)."""
        return int(self.config.clusters or 16)

    @property
    def uses_labels(self):
        return False

    def encoder_units(self):
        return self.categories + int(self.config.latent_dim)

    def decoder_input_units(self):
        return self.categories + int(self.config.latent_dim)

    def optimizer_variables(self, role):
        if role == "discriminator_optimizer":
            return (self.category_discriminator.trainable_variables
                    + self.style_discriminator.trainable_variables)
        return super().optimizer_variables(role)

    # ------------------------------------------------------- the model
    def code_from_encoding(self, encoding, training):
        """[softmax(logits), style]: the code the decoder takes."""
        logits, style = self.split(encoding)
        return ops.concatenate([ops.softmax(logits, axis=-1), style],
                               axis=1), {}

    def split(self, code):
        """(categorical part, style part) of an encoding or a code."""
        return code[:, :self.categories], code[:, self.categories:]

    def category_logits(self, x, training=False):
        """Logits of q(y|x), shape (n, K)."""
        return self.split(self.encoder(x, training=training))[0]

    def classify(self, x):
        """q(y|x): probabilities over the K categories, shape (n, K)."""
        return ops.softmax(self.category_logits(x), axis=-1)

    def discriminate(self, code, labels=None, training=False):
        """Logits (n, 1) of both discriminators, (category, style)."""
        y, z = self.split(code)
        return (self.category_discriminator(y, training=training),
                self.style_discriminator(z, training=training))

    # ------------------------------------------------------- the phases
    def regularization_terms(self, real, fake):
        """Per-example discriminator loss and accuracy, summed over the
        two discriminators (accuracy: their mean)."""
        loss = sum(adversarial.discriminator_loss(r, f)
                   for r, f in zip(real, fake))
        accuracy = sum(adversarial.discriminator_accuracy(r, f)
                       for r, f in zip(real, fake)) / 2.0
        return loss, accuracy

    def discriminator_phase(self, x, y=None):
        """Updates both discriminators: prior samples real, codes fake.

        Returns:
            (per-example loss, per-example accuracy).
        """
        code = ops.stop_gradient(self.encode(x, training=True))
        sample = self.sample_prior(ops.shape(code)[0])

        def loss_fn():
            per_example, accuracy = self.regularization_terms(
                self.discriminate(sample, training=True),
                self.discriminate(code, training=True))
            return tf.nn.compute_average_loss(per_example), (
                per_example, accuracy)

        return self.descend(
            self.discriminator_optimizer,
            self.optimizer_variables("discriminator_optimizer"), loss_fn)

    def generator_phase(self, x, y=None):
        """Updates the encoder to fool both discriminators.

        Returns:
            The per-example generator loss (summed over both).
        """
        def loss_fn():
            per_example = sum(adversarial.generator_loss(logits)
                              for logits in self.discriminate(
                                  self.encode(x, training=True)))
            return tf.nn.compute_average_loss(per_example), per_example

        return self.descend(
            self.generator_optimizer,
            self.optimizer_variables("generator_optimizer"), loss_fn)

    def train_step(self, data):
        x, _ = self.unpack(data)
        terms = self.reconstruction_phase(x)
        d_loss, d_accuracy = self.discriminator_phase(x)
        g_loss = self.generator_phase(x)
        terms.extra.update(discriminator_loss=d_loss, generator_loss=g_loss,
                           discriminator_accuracy=d_accuracy)
        return self.update_metrics(x, terms, training=True)

    def test_step(self, data):
        x, y = self.unpack(data)
        terms = self.compute_losses(x, training=False)
        code = self.encode(x)
        d_loss, d_accuracy = self.regularization_terms(
            self.discriminate(self.sample_prior(ops.shape(code)[0])),
            self.discriminate(code))
        terms.extra.update(
            discriminator_loss=d_loss, discriminator_accuracy=d_accuracy,
            generator_loss=sum(adversarial.generator_loss(logits)
                               for logits in self.discriminate(code)))
        self.add_test_terms(x, y, terms)
        return self.update_metrics(x, terms)

    def add_test_terms(self, x, y, terms):
        """Hook: extra validation metrics from labels (semi-supervised)."""


@keras.saving.register_keras_serializable(package="kerasae")
class SemiSupervisedAdversarialAutoencoder(ClusteringAdversarialAutoencoder):
    """Semi-supervised AAE (Makhzani et al. 2015, Section 5, Figure 8).

    The categories are the data's classes. Training batches are
    `(x, (labelled_x, labelled_y))`: an unlabelled batch for the first
    two phases, a batch of the labelled subset for the third.
    """

    uses_labelled_subset = True
    optimizer_roles = {
        **adversarial.AdversarialAutoencoder.optimizer_roles,
        # The paper trains the classification phase at the rate of the
        # reconstruction phase.
        "classifier_optimizer": ("learning_rate", None),
    }

    @property
    def categories(self):
        if self.config.num_classes < 2:
            raise ConfigError(
                "--aae_mode=semi_supervised needs labelled data with at "
                f"least 2 classes (found {self.config.num_classes}): use a "
                "dataset with labels, or --aae_mode=clustering")
        return int(self.config.num_classes)

    def optimizer_variables(self, role):
        if role == "classifier_optimizer":
            return self.encoder.trainable_variables
        return super().optimizer_variables(role)

    def metric_names(self):
        return super().metric_names() + ["classification_loss",
                                         "classification_error"]

    def classification_phase(self, x, y):
        """Updates the encoder's q(y|x) on a labelled batch.

        Returns:
            The per-example cross-entropy.
        """
        def loss_fn():
            per_example = keras.losses.sparse_categorical_crossentropy(
                ops.cast(y, "int32"), self.category_logits(x, training=True),
                from_logits=True)
            return tf.nn.compute_average_loss(per_example), per_example

        return self.descend(
            self.classifier_optimizer,
            self.optimizer_variables("classifier_optimizer"), loss_fn)

    def train_step(self, data):
        x, (labelled_x, labelled_y) = data
        terms = self.reconstruction_phase(x)
        d_loss, d_accuracy = self.discriminator_phase(x)
        g_loss = self.generator_phase(x)
        c_loss = self.classification_phase(labelled_x, labelled_y)
        terms.extra.update(discriminator_loss=d_loss, generator_loss=g_loss,
                           discriminator_accuracy=d_accuracy)
        results = self.update_metrics(x, terms, training=True)
        tracker = self.trackers["classification_loss"]
        tracker.update_state(c_loss)
        results["classification_loss"] = tracker.result()
        return results

    def add_test_terms(self, x, y, terms):
        if y is None:
            return
        logits = self.category_logits(x)
        wrong = ops.cast(ops.not_equal(
            ops.cast(ops.argmax(logits, axis=-1), "int32"),
            ops.cast(ops.reshape(y, (-1,)), "int32")), "float32")
        terms.extra.update(
            classification_error=wrong,
            classification_loss=keras.losses.sparse_categorical_crossentropy(
                ops.cast(y, "int32"), logits, from_logits=True))


# `--aae_mode` -> the class `kerasae.models.build` makes for `--model=aae`.
adversarial.MODES.update(
    clustering=ClusteringAdversarialAutoencoder,
    semi_supervised=SemiSupervisedAdversarialAutoencoder)
