"""kerasae's fused Adam takes Keras's Adam steps, in one kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasae.training import optimizers


def run_steps(optimizer, gradients, initial):
    """Applies `gradients` (a list of per-step lists) from `initial`."""
    variables = [keras.Variable(value) for value in initial]
    optimizer.build(variables)

    @tf.function
    def step(grads):
        optimizer.apply_gradients(zip(grads, variables))

    for grads in gradients:
        step([tf.constant(g) for g in grads])
    return [v.numpy() for v in variables], step


@pytest.mark.parametrize("kwargs", [
    {"learning_rate": 1e-3},
    {"learning_rate": 5e-4, "beta_1": 0.5, "epsilon": 1e-4},
])
def test_fused_adam_takes_keras_adam_steps(kwargs):
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(7, 5)).astype("float32"),
               rng.normal(size=(5,)).astype("float32")]
    gradients = [[rng.normal(size=v.shape).astype("float32")
                  for v in initial] for _ in range(6)]
    ours, step = run_steps(optimizers.Adam(**kwargs), gradients, initial)
    theirs, _ = run_steps(keras.optimizers.Adam(**kwargs), gradients,
                          initial)
    for a, b, start in zip(ours, theirs, initial):
        assert np.abs(a - start).max() > 1e-3  # the steps moved them
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    # The dense update really is the one-kernel path.
    graph = step.get_concrete_function(
        [tf.TensorSpec(v.shape, tf.float32) for v in initial]).graph
    ops = {op.type for op in graph.get_operations()}
    assert "ResourceApplyAdam" in ops


def test_amsgrad_takes_the_keras_path():
    rng = np.random.default_rng(1)
    initial = [rng.normal(size=(4,)).astype("float32")]
    gradients = [[rng.normal(size=(4,)).astype("float32")] for _ in range(4)]
    ours, _ = run_steps(optimizers.Adam(amsgrad=True), gradients, initial)
    theirs, _ = run_steps(keras.optimizers.Adam(amsgrad=True), gradients,
                          initial)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)


def test_fused_adam_round_trips_through_serialization():
    optimizer = optimizers.Adam(2e-4, beta_1=0.5)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(restored, optimizers.Adam)
    assert restored.beta_1 == 0.5
    assert float(restored.learning_rate) == pytest.approx(2e-4)
