"""`tf.distribute` strategies by name, and what replicas must share.

Under a strategy every replica runs `train_step` on its share of the batch
and the optimizer *sums* the replicas' gradients. Losses must therefore be
averaged over the global batch (`tf.nn.compute_average_loss`), and batch
statistics such as the sparse model's mean activation must be reduced
across replicas, or the result depends on the number of devices.

Three more things go wrong quietly without care, and are handled here:

- Random draws: every replica reads the same `SeedGenerator` state, so
  with a plain generator each replica's shard gets the *same* noise.
  `ReplicaSeedGenerator` folds the replica id into the seed.
- A second `MirroredStrategy` over the same devices in one process reuses
  the first one's collective instance keys and fails with "Shape mismatch
  in the collective instance" (tensorflow/tensorflow#62790), so
  `get_strategy` returns one strategy per device set and process.
- Files: under `MultiWorkerMirroredStrategy` every worker runs the same
  program; only the chief (`is_chief`) writes the workdir, the others
  restore from it (`RestoreOnlyBackup`).
"""

import json
import os

import keras
import tensorflow as tf

from kerasae.errors import ConfigError

# One strategy per (name, devices) and process: see the module docstring.
_STRATEGIES = {}


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
            `mirrored`, `multi_worker_mirrored` (reads `TF_CONFIG`; uses
            the worker's GPUs, or its first CPU), `tpu`.
        cpu_devices: logical CPU devices to create first.

    Returns:
        A `tf.distribute.Strategy`; the same object for the same name and
        devices within a process.

    Raises:
        ConfigError: unknown name, a malformed `TF_CONFIG`, no TPU, or
            devices already initialised with another split.
    """
    configure_cpu_devices(cpu_devices)
    # Physical, not logical: listing logical devices initialises the
    # runtime, after which collective ops can no longer be configured.
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 or cpu_devices > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(
            "/gpu:0" if gpus else "/cpu:0")
    if name == "multi_worker_mirrored":
        key = (name, os.environ.get("TF_CONFIG", ""))
        if key not in _STRATEGIES:
            check_tf_config(key[1])
            _STRATEGIES[key] = tf.distribute.MultiWorkerMirroredStrategy()
            patch_keras_multi_worker_metrics()
        return _STRATEGIES[key]
    if name == "mirrored":
        devices = tuple(d.name for d in tf.config.list_logical_devices(
            "GPU" if gpus else "CPU"))
        if (name, devices) not in _STRATEGIES:
            _STRATEGIES[(name, devices)] = tf.distribute.MirroredStrategy(
                list(devices))
        return _STRATEGIES[(name, devices)]
    if name == "tpu":
        if (name,) in _STRATEGIES:
            return _STRATEGIES[(name,)]
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.NotFoundError) as error:
            raise ConfigError(
                f"--strategy=tpu: no TPU found ({error}); choose another "
                "--strategy"
            ) from error
        return _STRATEGIES.setdefault(
            (name,), tf.distribute.TPUStrategy(resolver))
    raise ConfigError(f"--strategy={name!r} is not a known strategy")


def check_tf_config(text):
    """Checks the `TF_CONFIG` of a multi-worker run (empty: one worker).

    Raises:
        ConfigError: `text` is not JSON with a `cluster` and a `task`.
    """
    if not text:
        return
    try:
        value = json.loads(text)
        task, cluster = value["task"], value["cluster"]
        cluster[task["type"]][int(task["index"])]
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise ConfigError(
            "--strategy=multi_worker_mirrored: TF_CONFIG must be JSON like "
            '{"cluster": {"worker": ["host0:port", "host1:port"]}, '
            '"task": {"type": "worker", "index": 0}} '
            f"({type(error).__name__}: {error})"
        ) from error


def is_chief(strategy):
    """Whether this process writes the workdir (checkpoints, logs, model).

    True except on the non-chief workers of a multi-worker strategy, which
    run the same program but must not write the same files.
    """
    return bool(getattr(strategy.extended, "should_checkpoint", True))


def patch_keras_multi_worker_metrics():
    """Lets Keras 3 `fit` report scalar metrics across several workers.

    Keras 3.15 averages the metrics `train_step` returns with
    `strategy.reduce("MEAN", value, axis=0)` under a multi-worker strategy,
    which fails for every scalar ("Invalid reduction dimension 0 for input
    with 0 dimensions", tensorflow/tensorflow#72388). Scalars are averaged
    over replicas instead (axis None), as one worker's replicas are.
    """
    from keras.src.backend.tensorflow import trainer
    original = getattr(trainer, "reduce_per_replica", None)
    if original is None or getattr(original, "kerasae_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and \
                trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce(
                    "MEAN", v, axis=None if v.shape.rank == 0 else 0),
                values)
        return original(values, strategy, reduction)

    reduce_per_replica.kerasae_patched = True
    trainer.reduce_per_replica = reduce_per_replica


class RestoreOnlyBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` for a non-chief worker: restores, never writes.

    Keras 3's `BackupAndRestore` is not multi-worker aware: every worker
    would write (and at the end delete) the same backup. All workers must
    still restore the chief's backup, or they resume at different epochs.
    """

    def on_train_begin(self, logs=None):
        self._load_model()

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


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
