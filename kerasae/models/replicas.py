"""Per-replica helpers a model needs under `tf.distribute`.

They live with the models, below `kerasae.training`, because the models'
losses and noise use them: the sparsity penalty's batch mean is a mean over
the *global* batch, and each replica draws its own noise.
"""

import keras
import tensorflow as tf


def num_replicas():
    """Returns the number of replicas of the current strategy."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_batch_mean(values):
    """Mean over the global batch of `values` (batch, ...) -> (...).

    In a replica context with several replicas the sums and counts are
    all-reduced, so every replica sees the mean of the whole global batch;
    the all-reduce is differentiable, so gradients reach every replica.
    """
    total = tf.reduce_sum(values, axis=0)
    count = tf.cast(tf.shape(values)[0], values.dtype)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return total / count


@keras.saving.register_keras_serializable(package="kerasae")
class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` that gives every replica its own random stream.

    The state is mirrored and advances identically on every replica, so a
    plain generator hands every replica the same seed, and two replicas'
    shards get identical noise (a correlation one device never has). Under
    several replicas the replica id is folded into each seed; with one
    replica the seeds are those of a plain `SeedGenerator`.
    """

    def next(self, ordered=True):
        seed = super().next(ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
        return tf.random.experimental.stateless_fold_in(seed, replica)
