"""`Split`: the examples of one split, as batches in model space.

Every consumer (training, evaluation, calibration, export, `Run`) asks a
split for the same two things: `dataset(...)`, batches for Keras, and
`sample(count)`, a bounded in-memory split for figures and pictures. How
the split holds its examples is its own business:

- held in memory (`x`, `y` arrays, or a series' `Windows`): the data fit
  `--in_memory_limit_mb`, so the reader's pipeline was materialised once
  and each batch is one gather (`kerasae.data.pipeline.make_dataset`);
- streamed: a reader, a part and the indices of the split's examples.
  Readers with random access read a permutation of the indices that is a
  function of `(seed, epoch)`; sequential ones (CSV, TFDS records) read
  their file order through a shuffle buffer seeded by `(seed, epoch)`.
  Either way epoch e's batches depend on `(seed, e)` alone, so a resumed
  run (which says where it starts through `position`) replays an
  uninterrupted one. Examples stay in their raw dtype until the batch's
  last map to model space; memory grows with the batch and the buffer.

Binarized splits (`kerasae.data.binarize`) draw each example's pixels
from `(seed, index)` on both paths, or (dynamic) each training batch's
from `(seed, batch number)`.
"""

import numpy as np
import tensorflow as tf

from kerasae.data import binarize
from kerasae.data.pipeline import make_dataset

# The shuffle buffer of a sequential reader holds at most this many bytes
# of raw examples (and at most `_SHUFFLE_EXAMPLES` examples).
_SHUFFLE_BYTES = 32 * 2**20
_SHUFFLE_EXAMPLES = 10_000
# Seeds which examples a streamed split's sample holds.
SAMPLE_SEED = 1234


class Split:
    """The examples of one split (see the module docstring).

    Attributes:
        x: model-space examples held in memory (None when streamed).
        y: int64 labels held in memory, or None.
        has_labels: whether examples come with labels.
        index: int64 index of each example in its reader's part.
    """

    def __init__(self, x, y=None, index=None):
        self.x = x
        self.y = None if y is None else np.asarray(y, np.int64)
        self.has_labels = y is not None
        self.index = np.arange(len(x), dtype=np.int64) if index is None \
            else np.asarray(index, np.int64)
        self._source = None
        self.dynamic_seed = None

    @classmethod
    def streamed(cls, source, part, index, preprocessing, binarize_seed=None):
        """A split read from `source`'s `part` at `index` on every pass.

        Args:
            source: a `kerasae.data.reader.Reader`.
            part: the reader's part the examples come from.
            index: sorted int64 indices into the part.
            preprocessing: the raw -> model-space `Preprocessing`.
            binarize_seed: draw every example's pixels from this seed and
                its index; None keeps grey levels.
        """
        split = cls.__new__(cls)
        split.x = split.y = split.dynamic_seed = None
        split.has_labels = source.info.has_labels
        split.index = np.asarray(index, np.int64)
        split._source = (source, part, preprocessing, binarize_seed)
        return split

    @property
    def is_streamed(self):
        return self._source is not None

    def __len__(self):
        return len(self.index) if self.x is None else len(self.x)

    def take(self, indices):
        """The in-memory examples at `indices` (an index array or mask)."""
        return Split(self.x[indices], None if self.y is None
                     else self.y[indices], self.index[indices])

    def dataset(self, batch_size, labels=False, shuffle=False, seed=0,
                repeat=False, drop_remainder=False, position=None,
                shard=None):
        """Batches in model space: `x`, or `(x, y)` with `labels`.

        Args:
            batch_size: examples per batch.
            labels: yield `(x, y)`.
            shuffle: a new order every epoch, a function of (seed, epoch).
            seed: the shuffle seed.
            repeat: repeat forever (the caller sets `steps_per_epoch`).
            drop_remainder: drop each epoch's last, smaller batch.
            position: None, or an int64 `tf.Variable`: the batch count
                where an iteration starts (`make_dataset`).
            shard: None, or `(count, index)`: this worker's share of a
                streamed split (one held in memory is sharded by
                `tf.distribute`).
        """
        if self._source is None:
            ds = make_dataset(self.x, self.y if labels else None,
                              batch_size=batch_size, shuffle=shuffle,
                              seed=seed, repeat=repeat,
                              drop_remainder=drop_remainder,
                              position=position)
        else:
            ds = self._streamed_dataset(batch_size, labels, shuffle, seed,
                                        repeat, drop_remainder, position,
                                        shard)
        if self.dynamic_seed is not None:
            # Fresh Bernoulli pixels every time an example is used.
            ds = ds.apply(binarize.dynamic_binarizer(
                self.dynamic_seed, position)).prefetch(2)
        return ds

    def sample(self, count):
        """At most `count` examples held in memory, the same ones on every
        call (a split held in memory already is returned whole)."""
        if self._source is None:
            return self
        n = len(self.index)
        chosen = np.sort(np.random.default_rng(SAMPLE_SEED).permutation(n)[
            :count]) if count < n else np.arange(n)
        source, part, prep, binarize_seed = self._source
        part_split = Split.streamed(source, part, self.index[chosen], prep,
                                    binarize_seed)
        return part_split.materialize()

    def materialize(self):
        """The whole (streamed) split read once into memory."""
        xs, ys = [np.zeros((0,) + self._source[0].info.shape, np.float32)], []
        for x, y in self._streamed_dataset(
                4096, True, False, 0, False, False, None,
                None).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        y = np.concatenate(ys) if ys and self.has_labels else None
        split = Split(np.concatenate(xs), y, self.index)
        split.dynamic_seed = self.dynamic_seed
        return split

    def raw_batches(self, batch_size=4096):
        """The raw (unscaled) examples in index order, batch by batch."""
        ds = self._examples(False, 0, 0, None).map(lambda i, x, y: x)
        return ds.batch(batch_size).as_numpy_iterator()

    def _examples(self, shuffle, seed, epoch, shard):
        source, part, _, _ = self._source
        index = self.index
        if source.random_access:
            order = tf.constant(index)
            if shuffle:
                order = tf.random.experimental.stateless_shuffle(
                    order, seed=tf.stack([tf.constant(seed, tf.int64),
                                          tf.cast(epoch, tf.int64)]))
            order = tf.data.Dataset.from_tensor_slices(order)
            if shard is not None:
                order = order.shard(*shard)
            ds = source.examples(part, order)
        else:
            member = np.zeros(source.info.parts[part], bool)
            member[index] = True
            member = tf.constant(member)
            ds = source.examples(part).filter(lambda i, x, y: member[i])
            if shard is not None:
                ds = ds.shard(*shard)
            if shuffle:
                ds = _block_shuffle(ds, max(1, min(
                    _SHUFFLE_EXAMPLES,
                    _SHUFFLE_BYTES // source.info.example_bytes())),
                    seed, epoch)
        if shard is not None:
            # Equal shares: a worker with one batch more than the others
            # would wait for them forever at the end of the epoch.
            ds = ds.take(len(index) // shard[0])
        return ds

    def _streamed_dataset(self, batch_size, labels, shuffle, seed, repeat,
                          drop_remainder, position, shard):
        _, _, prep, binarize_seed = self._source
        offset = tf.constant(prep.offset, tf.float32)
        scale = tf.constant(prep.scale, tf.float32)
        n = len(self.index) // (shard[0] if shard else 1)
        batches = n // batch_size if drop_remainder else -(-n // batch_size)

        def to_model_space(x):  # `Preprocessing.apply`'s arithmetic
            return (tf.cast(x, tf.float32) - offset) / scale

        per_example = binarize.example_binarizer(binarize_seed) \
            if binarize_seed is not None else None

        def one_epoch(epoch):
            ds = self._examples(shuffle, seed, epoch, shard)
            if per_example is not None:
                ds = ds.map(lambda i, x, y: (
                    i, per_example(i, to_model_space(x)), y))
            return ds.batch(batch_size, drop_remainder=drop_remainder)

        def from_position(start):
            start = tf.cast(start, tf.int64)
            if not repeat:
                return one_epoch(start // max(batches, 1)).skip(
                    start % max(batches, 1))
            return tf.data.Dataset.counter(start // max(batches, 1)) \
                .flat_map(one_epoch).skip(start % max(batches, 1))

        if position is not None:
            ds = tf.data.Dataset.from_tensors(0).flat_map(
                lambda _: from_position(position.read_value()))
        elif shuffle:
            # A new epoch every iteration (Keras iterates once an epoch).
            ds = tf.data.Dataset.random(
                seed=seed, rerandomize_each_iteration=True).take(1).flat_map(
                    lambda draw: from_position(
                        (draw % 2**31) * max(batches, 1)))
        else:
            ds = from_position(0)
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            tf.data.INFINITE_CARDINALITY if repeat and batches else batches))

        def finish(i, x, y):
            if per_example is None:
                x = to_model_space(x)
            return (x, y) if labels else x

        options = tf.data.Options()
        if shard is not None:
            # This worker reads its own share: tf.data must not shard it
            # again.
            options.experimental_distribute.auto_shard_policy = \
                tf.data.experimental.AutoShardPolicy.OFF
        return ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE) \
            .prefetch(tf.data.AUTOTUNE).with_options(options)


def _block_shuffle(ds, block, seed, epoch):
    """`ds` shuffled within consecutive blocks of `block` examples, each
    block's permutation a function of `(seed, epoch, block number)`: a
    shuffle buffer's reach, repeatable from the epoch alone."""
    seed = tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)

    def permute(number, batch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(batch[0])[0]), seed=tf.stack([seed, number]))
        return tuple(tf.gather(part, order) for part in batch)

    return ds.batch(block).enumerate().map(
        lambda number, batch: permute(number, batch)).unbatch()
