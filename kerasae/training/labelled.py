"""Training batches of a semi-supervised run: unlabelled and labelled.

The semi-supervised adversarial autoencoder (Makhzani et al. 2015,
Section 5) reconstructs and regularizes on a batch of the whole training
split, then classifies a batch of its labelled subset. `attach` pairs the
training pipeline with an endless pipeline over the labelled subset
(`choose`), so every step gets `(x, (labelled_x, labelled_y))`.

Which examples keep their label (`choose`) is a pure function of the label
array, the subset size and the seed: a resumed run, a run on another
path and its evaluation all see the same subset.

A separate labelled pipeline rather than labels masked inside the
training batches: with 100 labels among 60,000 digits a batch of 100
would hold one label in six batches, while the paper's classification
phase sees a whole labelled batch every step. The labelled batches are
a pure function of (seed, batch number) through the data position, so
a resumed run replays them; a streamed split contributes its subset from
a bounded sample (`--sample_size`), held in memory.
"""

import numpy as np
import tensorflow as tf

from kerasae import data as kae_data
from kerasae.data.loader import STREAM
from kerasae.errors import ConfigError


def labelled_arrays(bundle, config):
    """`(x, y)` of the labelled subset `config.data` asks for.

    Raises:
        ConfigError: the data has no labels, or the subset cannot be drawn
            (`choose`).
    """
    n = config.data.labelled_examples
    train = bundle.train
    if bundle.data_path == STREAM:
        if n is None:
            raise ConfigError(
                "--aae_mode=semi_supervised on streamed data keeps its "
                "labelled subset in memory: give --labelled_examples=N "
                f"(at most --sample_size={config.data.sample_size})")
        if n > config.data.sample_size:
            raise ConfigError(
                f"--labelled_examples={n} is more than the streamed run's "
                f"--sample_size={config.data.sample_size} examples it "
                "draws the labels from; give fewer or raise --sample_size")
        train = train.sample(config.data.sample_size)
    if train.y is None:
        raise ConfigError(
            "--aae_mode=semi_supervised needs labelled data (a TFDS label, "
            "a --label_column, or class subfolders); use "
            "--aae_mode=clustering for data without labels")
    chosen = choose(train.y, n, config.train.seed,
                                    config.model.num_classes)
    return train.x[chosen], train.y[chosen]


def attach(train_ds, bundle, config, replicas, position=None):
    """Pairs each training batch with a batch of the labelled subset.

    Args:
        train_ds: the training pipeline (of `x`, or of `(x, y)` pairs
            whose `y` is dropped: only the subset's labels are used).
        bundle: the run's `DataBundle`.
        config: the resolved `Config`.
        replicas: replicas in sync (the labelled batch splits evenly).
        position: the data position variable (`kerasae.data`), so the
            labelled batches replay on resume.

    Returns:
        A dataset of `(x, (labelled_x, labelled_y))`.
    """
    x, y = labelled_arrays(bundle, config)
    size = min(config.train.batch_size, len(x))
    size -= size % replicas
    if size < 1:
        raise ConfigError(
            f"--labelled_examples={len(x)} cannot be shared by {replicas} "
            f"replicas; give at least {replicas}")
    labelled = kae_data.make_dataset(
        x, y, batch_size=size, shuffle=True, seed=config.train.seed,
        repeat=True, drop_remainder=True, position=position)

    def pair(batch, labelled_batch):
        if isinstance(batch, tuple):
            batch = batch[0]
        return batch, labelled_batch

    return tf.data.Dataset.zip((train_ds, labelled)).map(pair)


def choose(labels, n, seed, num_classes=None):
    """Indices of a class-balanced labelled subset.

    Class c keeps `n // K` of its examples, plus one of the `n % K` classes
    that come first in a seeded order, so the subset has exactly `n`
    examples. Within a class the examples are a seeded permutation's first.

    Args:
        labels: (m,) int labels of the training examples (in the order
            the caller will index them).
        n: subset size; None keeps every example.
        seed: the run's seed.
        num_classes: K (default: the largest label + 1).

    Returns:
        Sorted int64 indices into `labels`.

    Raises:
        ConfigError: `n` is more than the examples there are, fewer than
            one per class, or more than a class holds.
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    k = int(num_classes or (labels.max() + 1 if len(labels) else 0))
    if n > len(labels):
        raise ConfigError(
            f"--labelled_examples={n} is more than the {len(labels)} "
            "labelled training examples; give fewer")
    if n < k:
        raise ConfigError(
            f"--labelled_examples={n} is fewer than one per class ({k} "
            f"classes); give at least {k}")
    rng = np.random.default_rng([int(seed), 0x1abe1])
    per_class = np.full(k, n // k)
    per_class[rng.permutation(k)[:n % k]] += 1
    chosen = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class[c]:
            raise ConfigError(
                f"--labelled_examples={n} needs {per_class[c]} examples of "
                f"class {c}, which has {len(members)}; give fewer")
        chosen.append(rng.permutation(members)[:per_class[c]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)
