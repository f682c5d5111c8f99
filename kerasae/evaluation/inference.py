"""Apply a model to arrays in batches: codes, decodings, reconstructions.

The one place where `kerasae.evaluation` turns NumPy arrays into model
outputs. It imports only Keras and NumPy, so the metrics, the anomaly
scores, the prior match and the pictures all use it without importing each
other (no import cycle between metrics and pictures).

    from kerasae.evaluation import inference
    codes = inference.encode(model, x)            # (n, latent_dim); y: cvae
    x_hat = inference.reconstruct(model, x, y)    # y: supervised models
    images = inference.decode(model, codes, y)

Inputs and outputs are in model space (what `kerasae.data` yields), not
the raw units of a dataset.
"""

import keras
import numpy as np
from keras import ops

from kerasae.errors import ConfigError
from kerasae.errors import DataError

BATCH_SIZE = 512


def batches(x, batch_size=BATCH_SIZE):
    """Yields `x[i:i + batch_size]` as tensors, in order.

    Args:
        x: an array `(n, ...)`.
        batch_size: rows per tensor (the last one may hold fewer).
    """
    for i in range(0, len(x), batch_size):
        yield ops.convert_to_tensor(x[i:i + batch_size])


def _check_labels(model, labels, what, encoder=False):
    needed = model.encoder_uses_labels if encoder else model.uses_labels
    if needed and labels is None:
        raise DataError(
            f"{what} with the label-taking {model.config.name!r} needs the "
            "labels of the examples: pass labels (y) as well")


def label_batches(labels, batch_size=BATCH_SIZE):
    """Yields int32 label tensors like `batches`, or None forever."""
    if labels is None:
        while True:
            yield None
    labels = np.asarray(labels).astype("int32")
    for i in range(0, len(labels), batch_size):
        yield ops.convert_to_tensor(labels[i:i + batch_size])


def encode(model, x, batch_size=BATCH_SIZE, labels=None):
    """Deterministic codes `model.encode(x)` (the VAE's mean).

    Args:
        model: a model with an encoder (`model.has_encoder`).
        x: model-space examples `(n, *input_shape)`.
        batch_size: examples per forward pass.
        labels: `(n,)` int labels, for an encoder that takes them
            (`model.encoder_uses_labels`, the conditional VAE); the model
            ignores them otherwise.

    Returns:
        A float32 array `(n, latent_dim)`.

    Raises:
        ConfigError: the model has no encoder (the GAN).
    """
    if not model.has_encoder:
        raise ConfigError(
            f"the {model.config.name!r} model has no encoder, so it cannot "
            "encode data; use a model with an encoder (ae, vae, aae, ...)")
    _check_labels(model, labels, "encoding", encoder=True)
    return np.concatenate([
        keras.ops.convert_to_numpy(model.encode(b, labels=y))
        for b, y in zip(batches(x, batch_size),
                        label_batches(labels, batch_size))])


def decode(model, codes, labels=None, batch_size=BATCH_SIZE):
    """Model-space outputs `model.decode(codes)` (generator for a GAN).

    Args:
        model: any kerasae model.
        codes: latent points `(n, latent_dim)`.
        labels: `(n,)` int labels, for models that decode (code, label)
            (`model.uses_labels`); ignored otherwise.
        batch_size: codes per forward pass.

    Returns:
        An array `(n, *input_shape)`.

    Raises:
        DataError: a supervised model without labels.
    """
    _check_labels(model, labels, "decoding")
    codes = np.asarray(codes, "float32")
    labels = None if labels is None else np.asarray(labels)
    out = []
    for i, b in enumerate(batches(codes, batch_size)):
        if model.uses_labels:
            part = labels[i * batch_size:(i + 1) * batch_size]
            out.append(model.decode(
                b, labels=ops.convert_to_tensor(part.astype("int32"))))
        else:
            out.append(model.decode(b))
    return np.concatenate([keras.ops.convert_to_numpy(o) for o in out])


def reconstruct(model, x, y=None, batch_size=BATCH_SIZE):
    """Deterministic reconstructions decode(encode(x)).

    Args:
        model: a model with an encoder.
        x: model-space examples.
        y: labels, for models that decode (code, label); ignored otherwise.
        batch_size: examples per forward pass.

    Returns:
        An array shaped like `x`.

    Raises:
        ConfigError: the model has no encoder.
        DataError: a supervised model without labels.
    """
    _check_labels(model, y, "reconstructing")
    return decode(model, encode(model, x, batch_size, y), y, batch_size)
