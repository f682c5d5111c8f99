"""`tf.data` input pipelines over in-memory NumPy splits.

Arrays held in memory (`kerasae.data.Split`'s cache) are batched on
whole batches, never on single examples: each epoch is one permutation of
the example indices, cut into batches of indices by one reshape, and each
batch is one `gather` from the arrays. Slicing, shuffling and batching
example by example (`from_tensor_slices(x).shuffle(n).batch(b)`) costs
2.7 microseconds of CPU per MNIST example measured alone, about 5 inside
a training run on two cores, where its thread competes with the step;
this pipeline costs 1.4, most of it copying the examples into the batch
(`bench/input_pipeline.py`).
"""

import tensorflow as tf

# tf.data's autotuner has nothing to tune here (no parallel stage), but
# with it on, whole epochs of a long `fit` of a small model (the MNIST
# VAE at batch 128, 2 cores) ran on one core with the other idle, at 0.6
# times the speed: 3 to 5 epochs in 10 (`bench/input_pipeline.py
# --autotune_epochs=8`).
OPTIONS = tf.data.Options()
OPTIONS.autotune.enabled = False


def make_dataset(x, y=None, batch_size=128, shuffle=False, seed=0,
                 repeat=False, drop_remainder=False, position=None):
    """Builds a batched `tf.data.Dataset` over arrays.

    Args:
        x: examples, shape `(n, *input_shape)`.
        y: optional labels of shape `(n,)`.
        batch_size: examples per batch.
        shuffle: shuffle the whole split, in a new order every epoch.
        seed: shuffle seed; the same seed gives the same order of orders.
        repeat: repeat forever (the caller then sets `steps_per_epoch`),
            epoch after epoch, each ending with its own smaller batch
            unless `drop_remainder`.
        drop_remainder: drop a last, smaller batch (e.g. for TPUs, or a
            fixed global batch under a distribution strategy).
        position: None, or a scalar int64 `tf.Variable` saying where each
            iteration starts in the endless sequence of batches (epoch
            e's batches, then epoch e + 1's, ...), read when the
            iteration starts. Epoch e's order is then a pure function of
            `(seed, e)` (`epoch_order`), so a resumed run sets it and
            replays the order of an uninterrupted one. Without `repeat`
            an iteration is the one epoch it points into.

    Returns:
        A dataset of `x` batches when `y` is None, else of `(x, y)` tuples.

    Raises:
        ValueError: `batch_size` is not positive, `y` has another length,
            or `repeat` and `drop_remainder` leave no batch at all.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
    if repeat and drop_remainder and 0 < len(x) < batch_size:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(x)} examples: "
            "with drop_remainder there is no batch to repeat")
    # Series windows (`kerasae.data.series.Windows`) are gathered from the
    # series itself, so no array of all windows is ever built.
    take_x = x.make_gather() if hasattr(x, "make_gather") else \
        _gather_from(tf.convert_to_tensor(x))
    take = take_x if y is None else _pair(
        take_x, _gather_from(tf.convert_to_tensor(y)))
    # Batches per epoch: the reshape in `index_batches` cuts this many.
    batches = len(x) // batch_size if drop_remainder else \
        -(-len(x) // batch_size)
    if position is None:
        orders = epoch_orders(len(x), shuffle, seed)
        if not repeat:
            orders = orders.take(1)
        ds = orders.flat_map(lambda order: index_batches(
            order, len(x), batch_size, drop_remainder))
    else:
        ds = tf.data.Dataset.from_tensors(0).flat_map(
            lambda _: batches_from(position.read_value(), len(x),
                                   batch_size, drop_remainder, shuffle,
                                   seed, batches, repeat))
    # flat_map hides the number of batches; Keras needs it for its
    # progress bar and to end an epoch without an out-of-data warning.
    ds = ds.apply(tf.data.experimental.assert_cardinality(
        tf.data.INFINITE_CARDINALITY if repeat and batches else batches))
    ds = ds.map(take)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(OPTIONS)


def _gather_from(array):
    return lambda index: tf.gather(array, index)


def _pair(take_x, take_y):
    return lambda index: (take_x(index), take_y(index))


def index_batches(order, n, batch_size, drop_remainder):
    """The index vector `order` (length `n`) cut into batches: one
    reshape, so no copy of what is left after each batch."""
    full = n // batch_size
    batches = tf.data.Dataset.from_tensor_slices(
        tf.reshape(order[:full * batch_size], [full, batch_size]))
    if n % batch_size and not drop_remainder:
        batches = batches.concatenate(
            tf.data.Dataset.from_tensors(order[full * batch_size:]))
    return batches


def epoch_order(n, shuffle, seed, epoch):
    """Epoch `epoch`'s index vector: `0..n-1`, or with `shuffle` a
    permutation that is a pure function of `(seed, epoch)`."""
    indices = tf.range(n, dtype=tf.int64)
    if not shuffle:
        return indices
    return tf.random.experimental.stateless_shuffle(
        indices, seed=tf.stack([tf.constant(seed, tf.int64),
                                tf.cast(epoch, tf.int64)]))


def batches_from(position, n, batch_size, drop_remainder, shuffle, seed,
                 batches, repeat):
    """The batches of index vectors from `position` (a batch count) on:
    the rest of its epoch, then (with `repeat`) every later epoch."""
    if batches == 0:
        return tf.data.Dataset.from_tensors(
            tf.zeros([0], tf.int64)).take(0)
    position = tf.cast(position, tf.int64)

    def epoch_batches(epoch):
        return index_batches(epoch_order(n, shuffle, seed, epoch), n,
                             batch_size, drop_remainder)

    if not repeat:  # one epoch: no flat_map over epochs
        return epoch_batches(position // batches).skip(position % batches)
    return tf.data.Dataset.counter(position // batches).flat_map(
        epoch_batches).skip(position % batches)


def epoch_orders(n, shuffle, seed):
    """An endless dataset of index vectors, one per epoch: `0..n-1`, or
    with `shuffle` a new permutation every epoch, the same sequence of
    permutations for the same seed (re-iterating, as Keras does every
    epoch, goes on to new permutations rather than starting over).

    Training passes `position` instead: the iteration count behind these
    permutations starts again in a new process (a resumed run saw epoch
    0's order again), and Keras iterates once more under a strategy, to
    build the model from a batch (a mirrored run on one device trained on
    other orders than a run without a strategy)."""
    indices = tf.range(n, dtype=tf.int64)
    if n == 0:
        return tf.data.Dataset.from_tensors(indices).take(0)
    if not shuffle:
        return tf.data.Dataset.from_tensors(indices).repeat()
    seed = tf.constant(seed, tf.int64)
    return tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=True).map(
            lambda draw: tf.random.experimental.stateless_shuffle(
                indices, seed=tf.stack([draw, seed])))
