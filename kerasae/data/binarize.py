"""Binarized data: each pixel a Bernoulli draw with its intensity as odds.

The likelihoods the VAE literature reports on MNIST are on *binarized*
digits (Burda et al. 2016, Section 5.1; Salakhutdinov and Murray 2008):

- `dynamic`: every time a training example is used, each pixel is drawn
  anew as Bernoulli(intensity) (the IWAE paper's protocol). The draw is made
  per batch inside the `tf.data` pipeline (`dynamic_binarizer`), from a
  seeded stream, so a run is repeatable.
- `static`: the training split is binarized once, with the run's seed.

In both modes the validation and test splits are binarized once with a
fixed seed (`EVAL_SEED`), whatever the run's seed, so the test likelihoods
of two runs refer to the same binary digits and can be compared.
"""

import dataclasses

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


def sample(x, seed):
    """One Bernoulli(x) draw of every element, as float32 zeros and ones.

    Args:
        x: intensities in [0, 1].
        seed: seeds the draw (the same seed gives the same sample).
    """
    rng = np.random.default_rng(seed)
    draw = rng.random(np.shape(x), dtype=np.float32)
    return (draw < np.asarray(x, np.float32)).astype(np.float32)


def binarize_bundle(bundle, mode, seed):
    """The bundle with its splits binarized as `mode` says.

    Args:
        bundle: a `DataBundle` in model space.
        mode: one of `MODES`.
        seed: the run's seed (the static training sample's).

    Returns:
        `bundle` itself for `none`; otherwise a copy whose validation and
        test splits are binarized with `EVAL_SEED`, and whose training split
        is binarized with `seed` (`static`) or kept grey-level for the
        pipeline to resample (`dynamic`). Its `binarize` field says which.

    Raises:
        ConfigError: the mode is unknown, or the data is not in [0, 1].
    """
    if mode not in MODES:
        raise ConfigError(
            f"--binarize={mode!r} is not one of: {', '.join(MODES)}")
    if mode == "none":
        return bundle
    if not bundle.unit_range:
        raise ConfigError(
            f"--binarize={mode} needs data in [0, 1] (intensities), but "
            f"{bundle.name} is standardized real-valued data; drop "
            "--binarize")

    def fixed(split, offset):
        if split is None:
            return None
        return dataclasses.replace(split, x=sample(split.x,
                                                   EVAL_SEED + offset))

    train = bundle.train
    if mode == "static":
        train = dataclasses.replace(train, x=sample(train.x, seed))
    return dataclasses.replace(
        bundle, train=train, validation=fixed(bundle.validation, 1),
        test=fixed(bundle.test, 2), data_range=(0.0, 1.0), binarize=mode)


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
