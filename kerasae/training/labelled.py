"""Training batches of a semi-supervised run: unlabelled and labelled.

The semi-supervised adversarial autoencoder (Makhzani et al. 2015,
Section 5) reconstructs and regularizes on a batch of the whole training
split, then classifies a batch of its labelled subset. `attach` pairs the
training pipeline with an endless pipeline over the labelled subset
(`kerasae.data.labelled_subset`), so every step gets
`(x, (labelled_x, labelled_y))`.

A separate labelled pipeline rather than labels masked inside the
training batches: with 100 labels among 60,000 digits a batch of 100
would hold one label in six batches, while the paper's classification
phase sees a whole labelled batch every step. The labelled batches are
a pure function of (seed, batch number) through the data position, so
a resumed run replays them; a streamed split contributes its subset from
a bounded sample (`--sample_size`), held in memory.
"""

import tensorflow as tf

from kerasae import data as kae_data
from kerasae.data import labelled_subset
from kerasae.data.loader import STREAM
from kerasae.errors import ConfigError


def labelled_arrays(bundle, config):
    """`(x, y)` of the labelled subset `config.data` asks for.

    Raises:
        ConfigError: the data has no labels, or the subset cannot be drawn
            (`labelled_subset.choose`).
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
    chosen = labelled_subset.choose(train.y, n, config.train.seed,
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
