"""Layers whose matmuls and convolutions take bfloat16 inputs in training.

`kerasae.training.precision` explains the choice; this module holds the
layers and the scope that picks them, because the models' layer builders
ask it (`dense`, `conv2d`, `conv2d_transpose`) for every layer they make.
Outside a `matmul_precision("bfloat16")` scope they are Keras's own.
"""

import contextlib
import threading

import keras
from keras import ops

_scope = threading.local()


@contextlib.contextmanager
def matmul_precision(precision):
    """Layers built inside use `precision` (`float32` or `bfloat16`)."""
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"matmul precision {precision!r}: resolve it first")
    previous = current()
    _scope.precision = precision
    try:
        yield
    finally:
        _scope.precision = previous


def current():
    """The precision layers built now get (float32 outside any scope)."""
    return getattr(_scope, "precision", "float32")


def _low(*tensors):
    return [ops.cast(t, "bfloat16") for t in tensors]


@keras.saving.register_keras_serializable(package="kerasae")
class BF16Dense(keras.layers.Dense):
    """`Dense` whose matmul takes bfloat16 inputs; float32 otherwise."""

    def call(self, inputs, training=None):
        x = ops.cast(ops.matmul(*_low(inputs, self.kernel)),
                     self.compute_dtype)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x) if self.activation is not None else x


@keras.saving.register_keras_serializable(package="kerasae")
class BF16Conv2D(keras.layers.Conv2D):
    """`Conv2D` whose convolution takes bfloat16 inputs."""

    def convolution_op(self, inputs, kernel):
        return ops.cast(super().convolution_op(*_low(inputs, kernel)),
                        self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerasae")
class BF16Conv2DTranspose(keras.layers.Conv2DTranspose):
    """`Conv2DTranspose` whose transposed convolution takes bfloat16
    inputs."""

    def call(self, inputs):
        outputs = ops.cast(ops.conv_transpose(
            *_low(inputs, self.kernel),
            strides=list(self.strides),
            padding=self.padding,
            output_padding=self.output_padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        ), self.compute_dtype)
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(
                self.bias, (1,) * (self.rank + 1) + (self.filters,)))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


def dense(*args, **kwargs):
    """A `Dense` layer of the current precision."""
    cls = BF16Dense if current() == "bfloat16" else keras.layers.Dense
    return cls(*args, **kwargs)


def conv2d(*args, **kwargs):
    """A `Conv2D` layer of the current precision."""
    cls = BF16Conv2D if current() == "bfloat16" else keras.layers.Conv2D
    return cls(*args, **kwargs)


def conv2d_transpose(*args, **kwargs):
    """A `Conv2DTranspose` layer (channels last) of the current precision."""
    cls = (BF16Conv2DTranspose if current() == "bfloat16"
           else keras.layers.Conv2DTranspose)
    return cls(*args, **kwargs)
