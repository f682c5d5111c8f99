"""`tf.distribute` strategies by name, and global-batch reductions.

Under a strategy every replica runs `train_step` on its share of the batch
and the optimizer *sums* the replicas' gradients. Losses must therefore be
averaged over the global batch (`tf.nn.compute_average_loss`), and batch
statistics such as the sparse model's mean activation must be reduced
across replicas, or the result depends on the number of devices.
"""

import tensorflow as tf

from kerasae.errors import ConfigError


def configure_cpu_devices(count):
    """Splits the first CPU into `count` logical devices (0 or 1: no split).

    Must run before TensorFlow initialises its devices.

    Raises:
        ConfigError: TensorFlow's devices are already initialised with a
            different split.
    """
    if count <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise ConfigError(
                f"--cpu_devices={count}: TensorFlow's devices were already "
                "set up in this process; start a new process"
            ) from error


def get_strategy(name, cpu_devices=0):
    """Returns the strategy called `name`.

    Args:
        name: `auto` (mirrored over several GPUs, or several logical CPUs
            when `cpu_devices` > 1, else default), `default`, `one_device`,
            `mirrored`, `multi_worker_mirrored` (reads `TF_CONFIG`), `tpu`.
        cpu_devices: logical CPU devices to create first.

    Returns:
        A `tf.distribute.Strategy`.
    """
    configure_cpu_devices(cpu_devices)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 or cpu_devices > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(
            "/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in gpus] or [
            d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.NotFoundError) as error:
            raise ConfigError(
                f"--strategy=tpu: no TPU found ({error}); choose another "
                "--strategy"
            ) from error
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"--strategy={name!r} is not a known strategy")


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
