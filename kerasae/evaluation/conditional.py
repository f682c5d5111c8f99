"""Samples per requested label, judged by a classifier of the data.

A model that decodes (code, label) — the conditional VAE (Sohn et al.
2015) or the supervised adversarial autoencoder (Makhzani et al. 2016,
Section 5) — should draw an example of class c whenever it is asked for
label c, whatever the code. `sample_label_accuracy` checks that: a
classifier fitted on the real training examples labels the samples, and
the accuracy is the share of samples it assigns the label they were drawn
with. A model that ignored the label would score about 1 / classes.

The classifier is multinomial logistic regression on the pixels
(`probes.fit_linear_classifier`): small, deterministic, and about 91% on
real MNIST test digits, so an accuracy near that on samples means they are
as recognisable as real digits to it.
"""

import numpy as np

from kerasae.errors import ConfigError
from kerasae.evaluation import inference
from kerasae.evaluation import plots_latent
from kerasae.evaluation import probes


def sample_label_accuracy(model, train_x, train_y, per_class=100,
                          train_examples=10000, seed=0, test=None):
    """Accuracy of a classifier of real data on per-label samples.

    Args:
        model: a generative model that decodes (code, label)
            (`model.uses_labels` and `model.is_generative`).
        train_x, train_y: model-space training examples and their labels;
            the classifier is fitted on the first `train_examples`.
        per_class: samples drawn for each label.
        train_examples: examples the classifier is fitted on (0: all).
        seed: seed of the prior draws.
        test: optional `(x, y)` of real examples, whose accuracy is
            reported beside (`real_accuracy`) as the classifier's ceiling.

    Returns:
        `{"sample_label_accuracy", "per_class", "samples_per_class",
        "classifier_train_examples"}` (+ `real_accuracy`): the share of
        samples classified as the label they were drawn with, overall and
        for each label.

    Raises:
        ConfigError: the model cannot draw samples per label.
    """
    if not (model.uses_labels and model.is_generative):
        raise ConfigError(
            f"samples per label need a generative model that decodes "
            f"labels (--model=vae --conditional, or --model=aae "
            f"--aae_supervised); {model.config.name!r} does not")
    classes = int(model.config.num_classes)
    n = train_examples or len(train_x)
    predict = probes.fit_linear_classifier(
        train_x[:n], np.asarray(train_y)[:n], classes=classes)
    labels = np.repeat(np.arange(classes), per_class)
    codes = plots_latent.prior_draw(model, len(labels), labels, seed)
    samples = inference.decode(model, codes, labels)
    hit = predict(samples) == labels
    result = {
        "sample_label_accuracy": float(hit.mean()),
        "per_class": [float(hit[labels == c].mean())
                      for c in range(classes)],
        "samples_per_class": int(per_class),
        "classifier_train_examples": int(min(n, len(train_x))),
    }
    if test is not None:
        x, y = test
        result["real_accuracy"] = float(np.mean(predict(x) == y))
    return result
