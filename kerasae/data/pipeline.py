"""`tf.data` input pipelines over in-memory NumPy splits.

The datasets kerasae handles fit in memory, so the pipeline is the short,
fast one: slice the arrays, shuffle the whole split, batch, prefetch.
"""

import tensorflow as tf


def make_dataset(x, y=None, batch_size=128, shuffle=False, seed=0,
                 repeat=False, drop_remainder=False):
    """Builds a batched `tf.data.Dataset` over arrays.

    Args:
        x: examples, shape `(n, *input_shape)`.
        y: optional labels of shape `(n,)`.
        batch_size: examples per batch.
        shuffle: shuffle the whole split, in a new order every epoch.
        seed: shuffle seed; the same seed gives the same order of orders.
        repeat: repeat forever (the caller then sets `steps_per_epoch`).
        drop_remainder: drop a last, smaller batch (e.g. for TPUs, or a
            fixed global batch under a distribution strategy).

    Returns:
        A dataset of `x` batches when `y` is None, else of `(x, y)` tuples.

    Raises:
        ValueError: `batch_size` is not positive or `y` has another length.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if y is None:
        ds = tf.data.Dataset.from_tensor_slices(x)
    else:
        if len(y) != len(x):
            raise ValueError(
                f"x has {len(x)} examples but y has {len(y)} labels")
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        # A buffer as large as the split is a full shuffle; max(..., 1)
        # because tf.data rejects a buffer of 0 for an empty split.
        ds = ds.shuffle(max(len(x), 1), seed=seed,
                        reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
