"""Encoder and decoder builders, and the corruption of the denoising model.

Encoders map an example to `units` outputs (the code, or a VAE's mean and
log-variance side by side); decoders map a code to *raw* outputs (logits
for a sigmoid output) shaped like one example. Both are `keras.Sequential`
models with a fixed `keras.Input`, so they are built at construction and
serialise by weights alone.
"""

import math

import keras
from keras import layers
from keras import ops

from kerasae.errors import ConfigError
from kerasae.models import matmul
from kerasae.models import sequence_layers


def build_encoder(input_shape, arch, hidden_units, units, activation,
                  name="encoder"):
    """Builds the encoder.

    Args:
        input_shape: shape of one example.
        arch: `dense` (any input), `conv` (images, `(h, w, c)`), `conv1d`
            or `lstm` (series windows, `kerasae.models.sequence_layers`).
        hidden_units: dense sizes, or conv filter counts (stride 2 each).
        units: size of the output (code, or twice the code for a VAE).
        activation: hidden activation.
        name: Keras name of the returned model.

    Returns:
        A built `keras.Sequential`.
    """
    stack = [keras.Input(shape=tuple(input_shape))]
    if arch in sequence_layers.SEQUENCE_ARCHS:
        stack += sequence_layers.encoder_layers(
            input_shape, arch, hidden_units, activation)
    elif arch == "conv":
        _check_image(input_shape)
        for filters in hidden_units:
            stack.append(matmul.conv2d(
                int(filters), 3, strides=2, padding="same",
                activation=activation,
            ))
        stack.append(layers.Flatten())
    else:
        if len(input_shape) > 1:
            stack.append(layers.Flatten())
        for size in hidden_units:
            stack.append(matmul.dense(int(size), activation=activation))
    stack.append(matmul.dense(int(units), name="code"))
    return keras.Sequential(stack, name=name)


def build_decoder(code_units, output_shape, arch, hidden_units, activation,
                  name="decoder"):
    """Builds the decoder, mirroring the encoder's hidden sizes.

    Args:
        code_units: size of the decoder's input (the code, plus a one-hot
            label for supervised models).
        output_shape: shape of one example.
        arch: `dense`, `conv`, `conv1d` or `lstm`.
        hidden_units: the encoder's sizes; used in reverse.
        activation: hidden activation.
        name: Keras name of the returned model.

    Returns:
        A built `keras.Sequential` whose output is linear (logits).
    """
    output_shape = tuple(int(d) for d in output_shape)
    stack = [keras.Input(shape=(int(code_units),))]
    reverse = [int(u) for u in reversed(tuple(hidden_units))]
    if arch in sequence_layers.SEQUENCE_ARCHS:
        stack += sequence_layers.decoder_layers(
            output_shape, arch, hidden_units, activation)
    elif arch == "conv":
        _check_image(output_shape)
        height, width, channels = output_shape
        steps = len(reverse)
        # Same-padded stride-2 convolutions round up, so the encoder's last
        # map is ceil(h / 2^steps); the decoder doubles back and crops.
        small_h = math.ceil(height / 2**steps)
        small_w = math.ceil(width / 2**steps)
        stack += [
            matmul.dense(small_h * small_w * reverse[0],
                         activation=activation),
            layers.Reshape((small_h, small_w, reverse[0])),
        ]
        for filters in reverse:
            stack.append(matmul.conv2d_transpose(
                filters, 3, strides=2, padding="same", activation=activation,
            ))
        stack.append(matmul.conv2d(channels, 3, padding="same"))
        extra_h = small_h * 2**steps - height
        extra_w = small_w * 2**steps - width
        if extra_h or extra_w:
            stack.append(layers.Cropping2D(((0, extra_h), (0, extra_w))))
    else:
        for size in reverse:
            stack.append(matmul.dense(size, activation=activation))
        stack.append(matmul.dense(math.prod(output_shape)))
        if len(output_shape) > 1:
            stack.append(layers.Reshape(output_shape))
    return keras.Sequential(stack, name=name)


def _check_image(shape):
    if len(shape) != 3:
        raise ConfigError(
            f"--arch=conv needs images of shape (height, width, channels), "
            f"but one example has shape {tuple(shape)}: use --arch=dense "
            "(series windows: --arch=conv1d or lstm)"
        )


def corrupt(x, kind, level, data_range, seed_generator):
    """Corrupts a batch for the denoising autoencoder.

    Vincent et al. (2008, 2010), Section 4.2: additive isotropic Gaussian
    noise (clipped back into the data range), masking noise (a fraction
    `level` of the elements set to the minimum) and salt-and-pepper noise
    (a fraction `level` set to the minimum or maximum with equal odds).

    Args:
        x: clean batch.
        kind: `gaussian`, `masking` or `salt_pepper`.
        level: sigma for Gaussian noise, else the corrupted fraction.
        data_range: (min, max) of the data.
        seed_generator: a `keras.random.SeedGenerator`.

    Returns:
        The corrupted batch, same shape and dtype.
    """
    low, high = float(data_range[0]), float(data_range[1])
    if kind == "gaussian":
        noisy = x + level * keras.random.normal(
            ops.shape(x), seed=seed_generator, dtype=x.dtype)
        return ops.clip(noisy, low, high)
    hit = keras.random.uniform(
        ops.shape(x), seed=seed_generator, dtype=x.dtype) < level
    if kind == "masking":
        return ops.where(hit, ops.full_like(x, low), x)
    salt = keras.random.uniform(
        ops.shape(x), seed=seed_generator, dtype=x.dtype) < 0.5
    replacement = ops.where(salt, ops.full_like(x, high), ops.full_like(x, low))
    return ops.where(hit, replacement, x)
