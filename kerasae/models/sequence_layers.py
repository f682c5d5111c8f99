"""Encoders and decoders of series windows: `conv1d` and `lstm`.

Both take windows of shape `(steps, features)` and, like the other
architectures of `kerasae.models.layers`, end the encoder with a dense `code`
layer of `units` outputs and start the decoder with a dense layer from the
code, so every model family (VAE mean and log-variance, adversarial
priors, Mahalanobis scores on codes) works on windows unchanged.

- `conv1d`: strided `Conv1D` layers (kernel 7, stride 2, as in the
  keras-io example "Timeseries anomaly detection using an Autoencoder"),
  mirrored by `Conv1DTranspose` layers and a last same-padded `Conv1D`
  to the feature count, cropped back to the window length
  (`kerasae.models.conv1d`: Keras's layers, with bias and activation
  fused into the convolution).
- `lstm`: a sequence-to-sequence LSTM autoencoder (Srivastava et al. 2015,
  "Unsupervised Learning of Video Representations using LSTMs";
  Malhotra et al. 2016, "LSTM-based Encoder-Decoder for Multi-sensor
  Anomaly Detection"): stacked LSTMs read the window, the last state
  becomes the code; the decoder repeats the code for every step, runs
  stacked LSTMs and maps each step to the features. The LSTMs are
  unrolled over the window (its length is fixed): a `while` loop over a
  batch of unknown size keeps TensorList ops that the TFLite converter
  cannot lower ("TensorListReserve op requires element_shape to be
  static"), and would need the Select-TF-ops (Flex) delegate on devices.
"""

import math

from keras import layers

from kerasae.errors import ConfigError
from kerasae.models import conv1d
from kerasae.models import matmul

KERNEL = 7  # keras-io's kernel size, about a quarter of a 24-step day
SEQUENCE_ARCHS = ("conv1d", "lstm")


def check_window(shape, arch):
    """Raises ConfigError unless `shape` is one window `(steps, features)`.
    """
    if len(shape) != 2:
        raise ConfigError(
            f"--arch={arch} needs series windows of shape (steps, features), "
            f"but one example has shape {tuple(shape)}: give --window=N for "
            "a series, or use --arch=dense")


def encoder_layers(input_shape, arch, hidden_units, activation):
    """The layers between the input and the dense `code` layer."""
    check_window(input_shape, arch)
    stack = []
    if arch == "conv1d":
        for filters in hidden_units:
            stack.append(conv1d.Conv1D(
                int(filters), KERNEL, strides=2, padding="same",
                activation=activation))
        stack.append(layers.Flatten())
        return stack
    for i, size in enumerate(hidden_units):
        last = i == len(hidden_units) - 1
        stack.append(layers.LSTM(int(size), return_sequences=not last,
                                 unroll=True))
    return stack


def decoder_layers(output_shape, arch, hidden_units, activation):
    """The layers from the code to the raw output window."""
    check_window(output_shape, arch)
    steps, features = (int(d) for d in output_shape)
    reverse = [int(u) for u in reversed(tuple(hidden_units))]
    if arch == "conv1d":
        # Same-padded stride-2 convolutions round up (ceil(steps / 2^k));
        # the decoder doubles back and crops the extra steps.
        small = math.ceil(steps / 2 ** len(reverse))
        stack = [matmul.dense(small * reverse[0], activation=activation),
                 layers.Reshape((small, reverse[0]))]
        for filters in reverse:
            stack.append(conv1d.Conv1DTranspose(
                filters, KERNEL, strides=2, padding="same",
                activation=activation))
        stack.append(conv1d.Conv1D(features, KERNEL, padding="same"))
        extra = small * 2 ** len(reverse) - steps
        if extra:
            stack.append(layers.Cropping1D((0, extra)))
        return stack
    stack = [matmul.dense(reverse[0], activation=activation),
             layers.RepeatVector(steps)]
    for size in reverse:
        stack.append(layers.LSTM(size, return_sequences=True, unroll=True))
    stack.append(layers.TimeDistributed(matmul.dense(features)))
    return stack
