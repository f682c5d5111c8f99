"""Adam with TensorFlow's fused update kernel.

Keras 3's `Adam.update_step` is written in backend-neutral ops: for every
variable it runs about a dozen small kernels (cast, power, subtract,
multiply, square, sqrt, divide, three assigns). TensorFlow has the same
update as one kernel, `ResourceApplyAdam`, which reads and writes the
variable, m and v in a single pass (its gain on the MNIST VAE is in
`bench/RESULTS.md`, "Levers").

The update is Keras's to the letter (Kingma and Ba 2015, Algorithm 1 with
the bias correction folded into the step size, epsilon added to sqrt(v)):

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    var -= alpha * m / (sqrt(v) + epsilon)

Cases the kernel does not cover (AMSGrad, sparse `IndexedSlices`
gradients, another backend) take Keras's own path.
"""

import keras


@keras.saving.register_keras_serializable(package="kerasae")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose dense update is one fused kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if not self._fusable(gradient):
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(m), v=_handle(v),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False)

    def _fusable(self, gradient):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return False
        import tensorflow as tf
        return not isinstance(gradient, tf.IndexedSlices)


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable.

    Under `tf.distribute` this is the handle of the replica being updated
    (`strategy.extended.update` calls `update_step` once per device).
    """
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
