"""Binarized data: each pixel a Bernoulli draw with its intensity as odds.

The likelihoods the VAE literature reports on MNIST are on *binarized*
digits (Burda et al. 2016, Section 5.1; Salakhutdinov and Murray 2008):

- `dynamic`: every time a training example is used, each pixel is drawn
  anew as Bernoulli(intensity) (the IWAE paper's protocol). The draw is made
  per batch inside the `tf.data` pipeline (`dynamic_binarizer`), from a
  seeded stream, so a run is repeatable.
- `static`: each training example is binarized once, from `(seed, its
  index)`.

In both modes each validation and test example is binarized once from a
fixed seed (`EVAL_SEED`) and its index, whatever the run's seed and its
path, so the test likelihoods of two runs refer to the same binary digits
and can be compared.
"""

import numpy as np
import tensorflow as tf

from kerasae.errors import ConfigError

MODES = ("none", "static", "dynamic")
# Fixed so that every run evaluates on the same binary test digits.
EVAL_SEED = 20160101


def describe(mode):
    """Words for metrics and reports: which data a likelihood refers to."""
    return {
        "none": "grey-level (intensities as Bernoulli targets)",
        "static": "binarized (static: one fixed sample)",
        "dynamic": "binarized (dynamic: resampled in training; test "
                   "binarized once with a fixed seed)",
    }[mode]


def example_binarizer(seed):
    """A function of `(index, x)` drawing each element of one model-space
    example as Bernoulli(x), from a stateless sample seeded by `(seed,
    index)`: the same example gets the same binary pixels on every path
    and in every order."""

    def binarize(index, x):
        noise = tf.random.stateless_uniform(
            tf.shape(x), seed=tf.stack([tf.constant(seed, tf.int64),
                                        tf.cast(index, tf.int64)]),
            dtype=x.dtype)
        return tf.cast(noise < x, x.dtype)

    return binarize


def binarize_arrays(x, index, seed, batch_size=1024):
    """`example_binarizer(seed)` applied to arrays held in memory."""
    ds = tf.data.Dataset.from_tensor_slices((index, x)).map(
        example_binarizer(seed), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).batch(batch_size)
    out = np.empty(np.shape(x), np.float32)
    start = 0
    for batch in ds.as_numpy_iterator():
        out[start:start + len(batch)] = batch
        start += len(batch)
    return out


def check(mode, unit_range, name):
    """Raises unless `mode` is known and the data lies in [0, 1].

    Raises:
        ConfigError: an unknown mode, or standardized data.
    """
    if mode not in MODES:
        raise ConfigError(
            f"--binarize={mode!r} is not one of: {', '.join(MODES)}")
    if mode != "none" and not unit_range:
        raise ConfigError(
            f"--binarize={mode} needs data in [0, 1] (intensities), but "
            f"{name} is standardized real-valued data; drop --binarize")


def dynamic_binarizer(seed, position=None):
    """A `tf.data` transformation that binarizes every batch anew.

    Batch i of the training sequence is binarized with a stateless uniform
    sample seeded by `(i, seed)`, so the pixels are resampled every time an
    example is used, and the same seed repeats the whole sequence.

    Args:
        seed: the run's seed.
        position: the int64 variable that says where the batches start
            (`kerasae.data.make_dataset`); read when an iteration starts,
            like the data order, so a resumed run draws the pixels an
            uninterrupted run would. None: count from 0 at the first
            iteration and go on counting across iterations (a seeded
            random stream).

    Returns:
        A function for `Dataset.apply`, mapping batches of `x` or `(x, y)`.
    """
    def apply(ds):
        if position is None:
            draws = tf.data.Dataset.random(
                seed=seed + 1, rerandomize_each_iteration=True)
        else:
            # flat_map hides the counter's endlessness, which `zip` needs
            # to keep the batches' count (Keras reads it).
            draws = tf.data.Dataset.from_tensors(0).flat_map(
                lambda _: tf.data.Dataset.counter(
                    tf.cast(position.read_value(), tf.int64))).apply(
                tf.data.experimental.assert_cardinality(
                    tf.data.INFINITE_CARDINALITY))

        def binarize(batch, draw):
            x, rest = (batch[0], batch[1:]) if isinstance(batch, tuple) \
                else (batch, None)
            noise = tf.random.stateless_uniform(
                tf.shape(x), seed=tf.stack([draw, tf.constant(seed,
                                                               tf.int64)]),
                dtype=x.dtype)
            x = tf.cast(noise < x, x.dtype)
            return x if rest is None else (x,) + rest

        return tf.data.Dataset.zip((ds, draws)).map(binarize)

    return apply
