"""Streaming splits: data larger than memory as `tf.data` pipelines.

The in-memory path (`kerasae.data.loader`) reads a whole source into NumPy;
that is the fastest way to train on data that fits, and the one the README
figures come from. Data whose decoded size passes a fixed limit streams
instead: each split is a `StreamSplit`, a recipe for a `tf.data` pipeline
that reads examples in their own dtype (uint8 pixels, float32 CSV
features), batches them, and maps each batch to model space as its last
step. Memory then grows with the batch and the shuffle buffer, not with
the dataset.

Which path a run takes (`choose_path`) depends only on the data and the
config, never on the free memory of the machine, so the same seed gives
the same run everywhere:

- `--data_path=memory` or `stream` forces a path;
- `--data_path=auto` (the default) streams when the decoded size, all
  splits as float32 (what the in-memory path holds), is above
  `--in_memory_limit_mb` (default `DEFAULT_LIMIT_MB`).

Evaluation, the PCA baseline, anomaly calibration, int8 calibration and
the pictures work on a bounded sample of a streamed run (`sample_bundle`),
and say its size in their outputs.
"""

import math
import os

import numpy as np
import tensorflow as tf

from kerasae.data.bundle import DataBundle
from kerasae.data.bundle import Split

MEMORY = "memory"
STREAM = "stream"
AUTO = "auto"
DATA_PATHS = (AUTO, MEMORY, STREAM)
# 2 GiB of float32 model-space data: MNIST (220 MB) and CIFAR-10 (737 MB)
# stay in memory, where the in-memory path needs about three times this
# at its peak (raw arrays, float32 splits, the tensor copy in tf.data).
DEFAULT_LIMIT_MB = 2048
# Examples a streamed run evaluates, calibrates and plots on.
DEFAULT_SAMPLE = 10_000
# ... and at most this many float32 bytes per split (5,461 64x64 RGB
# images), so a wide input does not make the sample large.
_SAMPLE_BYTES = 256 * 2**20
# Seeds the order samples are drawn in (fixed: the same sample every time).
SAMPLE_SEED = 1234
# The shuffle buffer holds at most this many bytes of raw examples (and
# at most `_SHUFFLE_EXAMPLES` examples): 10,000 MNIST digits, 2,700
# 64x64 RGB images.
_SHUFFLE_BYTES = 32 * 2**20
_SHUFFLE_EXAMPLES = 10_000


class StreamSplit:
    """One split of a streamed source: a recipe for its `tf.data` pipeline.

    Attributes:
        num_examples: examples in the split, or None when the source does
            not say (TFDS under `tfds.testing.mock_data`).
        has_labels: whether examples come with int64 labels.
        name: what to call the split in errors and outputs.
    """

    def __init__(self, examples, num_examples, has_labels, example_bytes,
                 preprocessing=None, name="train"):
        """Args:
            examples: `examples(shuffle, seed, shard)` -> a `tf.data`
                dataset of raw `(x, y)` examples (y an int64 scalar, -1 when
                there are no labels); `shard` is None or `(count, index)`,
                applied to the source's files or rows before decoding.
            num_examples: see the attribute.
            has_labels: see the attribute.
            example_bytes: raw bytes of one example (sizes the shuffle
                buffer).
            preprocessing: the raw -> model-space `Preprocessing`; set by
                the loader once the training statistics are known.
            name: see the attribute.
        """
        self._examples = examples
        self.num_examples = num_examples
        self.has_labels = has_labels
        self.example_bytes = max(int(example_bytes), 1)
        self.preprocessing = preprocessing
        self.name = name

    def __len__(self):
        return int(self.num_examples or 0)

    @property
    def y(self):
        """None without labels; streamed labels are not held in memory."""
        return None if not self.has_labels else _STREAMED_LABELS

    def shuffle_buffer(self):
        """Examples the shuffle buffer holds (bounded in bytes)."""
        return max(1, min(_SHUFFLE_EXAMPLES,
                          _SHUFFLE_BYTES // self.example_bytes))

    def raw_examples(self, shuffle=False, seed=0, shard=None):
        """The raw `(x, y)` examples, in the source's dtype."""
        return self._examples(shuffle, seed, shard)

    def dataset(self, batch_size, labels=False, shuffle=False, seed=0,
                repeat=False, drop_remainder=False, shard=None):
        """Batches in model space, like `make_dataset` over the arrays.

        Args:
            batch_size: examples per batch.
            labels: yield `(x, y)` instead of `x`.
            shuffle: a new order every epoch: files (or rows) shuffled
                whole, examples through a bounded buffer.
            seed: the shuffle seed.
            repeat: repeat forever (the caller sets `steps_per_epoch`).
            drop_remainder: drop the last, smaller batch of each epoch.
            shard: None, or `(count, index)`: read only this worker's
                share of the files or rows.

        Returns:
            A `tf.data.Dataset` of float32 model-space batches.
        """
        ds = self._examples(shuffle, seed, shard)
        if shard is not None and self.num_examples:
            # Equal shares: a worker with one batch more than the others
            # would wait for them forever at the end of the epoch.
            ds = ds.take(self.num_examples // shard[0])
        if shuffle:
            ds = ds.shuffle(self.shuffle_buffer(), seed=seed,
                            reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size, drop_remainder=drop_remainder,
                      num_parallel_calls=tf.data.AUTOTUNE)
        if self.num_examples and not repeat and shard is None:
            n = self.num_examples
            batches = n // batch_size if drop_remainder else \
                -(-n // batch_size)
            ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
        ds = ds.map(self._to_model_space(labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        if shard is not None:
            # This worker reads its own share already: tf.data must not
            # shard it again.
            options.experimental_distribute.auto_shard_policy = \
                tf.data.experimental.AutoShardPolicy.OFF
        return ds.prefetch(tf.data.AUTOTUNE).with_options(options)

    def _to_model_space(self, labels):
        pre = self.preprocessing
        offset = tf.constant(pre.offset, tf.float32)
        scale = tf.constant(pre.scale, tf.float32)

        def scale_batch(x, y):
            # The same float32 arithmetic as `Preprocessing.apply`.
            x = (tf.cast(x, tf.float32) - offset) / scale
            return (x, y) if labels else x

        return scale_batch

    def sample(self, count, batch_size=256):
        """`count` examples as a `Split`, the same ones on every call.

        Files (folders), TFDS files and `.npy` chunks are taken in a fixed
        shuffled order, so a folder of class subfolders gives every class;
        a CSV file gives its first rows.

        Args:
            count: at most this many examples.
            batch_size: examples per read.

        Returns:
            A `Split` of float32 model-space arrays (labels when the split
            has them).
        """
        xs, ys = [], []
        taken = 0
        ds = self._examples(True, SAMPLE_SEED, None).batch(batch_size).map(
            self._to_model_space(True))
        for x, y in ds.as_numpy_iterator():
            xs.append(x[:count - taken])
            ys.append(y[:count - taken])
            taken += len(xs[-1])
            if taken >= count:
                break
        x = np.concatenate(xs)
        y = np.concatenate(ys).astype(np.int64) if self.has_labels else None
        return Split(x, y)


class _StreamedLabels:
    """Stands for the labels of a streamed split (truthy, not None)."""

    def __repr__(self):
        return "<streamed labels>"


_STREAMED_LABELS = _StreamedLabels()


def is_streaming(bundle):
    """Whether `bundle`'s splits stream (`StreamSplit`) rather than sit in
    memory."""
    return isinstance(bundle.train, StreamSplit)


def float32_megabytes(num_examples, example_shape):
    """Size in MB (2**20 bytes) of `num_examples` float32 examples."""
    return num_examples * math.prod(example_shape) * 4 / 2**20


def choose_path(data_path, decoded_mb, limit_mb):
    """`memory` or `stream`, from the flag and the data's decoded size.

    Args:
        data_path: `auto`, `memory` or `stream`.
        decoded_mb: the source's size as float32 model-space data, in MB;
            None when unknown (then `auto` keeps today's in-memory path).
        limit_mb: `--in_memory_limit_mb`.

    Returns:
        `memory` or `stream`.
    """
    if data_path != AUTO:
        return data_path
    if decoded_mb is not None and decoded_mb > limit_mb:
        return STREAM
    return MEMORY


def example_order(shuffle, seed, count):
    """A dataset of the indices `0..count-1`, shuffled whole every epoch
    when `shuffle` (indices are small: a 100,000-file folder is 800 kB)."""
    ds = tf.data.Dataset.range(count)
    if shuffle and count:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return ds


def shard_of(ds, shard):
    """`ds.shard(*shard)`, or `ds` when `shard` is None."""
    return ds if shard is None else ds.shard(*shard)


def worker_shard(strategy):
    """`(workers, index)` of this worker under `MultiWorkerMirroredStrategy`,
    or None for a single worker (every strategy but multi-worker).

    Workers are numbered as TensorFlow numbers them: the chief (if any)
    first, then `worker` 0, 1, ...
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None
    spec = resolver.cluster_spec().as_dict()
    chiefs = len(spec.get("chief", ()))
    workers = chiefs + len(spec.get("worker", ()))
    if workers <= 1:
        return None
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    index = task_id if task_type == "chief" else chiefs + task_id
    return workers, index


def sample_bundle(bundle, count=DEFAULT_SAMPLE):
    """An in-memory `DataBundle` of the first `count` examples of each
    split of a streamed `bundle`: what evaluation, calibration and the
    pictures of a streamed run use.

    Args:
        bundle: a `DataBundle` (returned unchanged when it is in memory).
        count: examples per split at most.

    Returns:
        A `DataBundle` of in-memory `Split`s; `sampled` records the
        count per split, for the outputs to say so.
    """
    if not is_streaming(bundle):
        return bundle
    # At most `_SAMPLE_BYTES` of float32 per split, whatever the width.
    width = math.prod(bundle.input_shape) * 4
    count = max(1, min(count, max(1000, _SAMPLE_BYTES // width)))
    test = None if bundle.test is None else bundle.test.sample(count)
    sampled = DataBundle(
        name=bundle.name,
        kind=bundle.kind,
        train=bundle.train.sample(count),
        validation=bundle.validation.sample(count),
        test=test,
        input_shape=bundle.input_shape,
        preprocessing=bundle.preprocessing,
        unit_range=bundle.unit_range,
        data_range=bundle.data_range,
        num_classes=bundle.num_classes,
        feature_names=bundle.feature_names,
    )
    sampled.sampled = count
    return sampled


def sample_size(bundle):
    """How many examples per split a sampled bundle holds, else None."""
    return getattr(bundle, "sampled", None)


def file_size_mb(path):
    """A file's size in MB (2**20 bytes)."""
    return os.path.getsize(path) / 2**20
