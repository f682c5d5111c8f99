"""`Conv1D` and `Conv1DTranspose` that TensorFlow fuses with their bias
and activation.

Keras's 1-D convolutions run TensorFlow's 2-D ones over a height of one,
squeezing the height away right after the convolution, then add the bias
and apply the activation. The squeeze stands between the convolution and
the bias, so TensorFlow's graph optimizer cannot fuse them, and each
becomes an op of its own. These layers keep the height until after the
activation: convolution, bias and ReLU become one oneDNN op
(`_FusedConv2D`), and the gradients run on the 4-D tensors directly. The
weights, their shapes and the layer configs are Keras's, so a model saved
with either loads into the other.

Measured on the conv1d autoencoder (48-step windows, batch 128, float32,
2 cores capped at AVX2): +18-33% samples per second
(`docs/performance.md`).
"""

import keras
import tensorflow as tf


def _finish(layer, outputs):
    if layer.use_bias:
        outputs = tf.nn.bias_add(outputs, layer.bias)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return tf.squeeze(outputs, 1)


@keras.saving.register_keras_serializable(package="kerasae")
class Conv1D(keras.layers.Conv1D):
    """`keras.layers.Conv1D` (channels last, no dilation or groups) whose
    bias and activation fuse into the convolution."""

    def call(self, inputs):
        outputs = tf.nn.conv2d(
            tf.expand_dims(inputs, 1), tf.expand_dims(self.kernel, 0),
            strides=[1, 1, self.strides[0], 1],
            padding=self.padding.upper())
        return _finish(self, outputs)


@keras.saving.register_keras_serializable(package="kerasae")
class Conv1DTranspose(keras.layers.Conv1DTranspose):
    """`keras.layers.Conv1DTranspose` (channels last, `same` padding, no
    dilation or output padding) whose bias and activation follow the
    transposed convolution before the height is squeezed."""

    def call(self, inputs):
        steps = inputs.shape[1] * self.strides[0]
        outputs = tf.nn.conv2d_transpose(
            tf.expand_dims(inputs, 1), tf.expand_dims(self.kernel, 0),
            output_shape=tf.stack(
                [tf.shape(inputs)[0], 1, steps, self.filters]),
            strides=[1, 1, self.strides[0], 1], padding="SAME")
        return _finish(self, outputs)
