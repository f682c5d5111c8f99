"""Training throughput (samples per second) against the number of replicas.

    python bench/scaling.py                        # GPUs if any, else CPUs
    python bench/scaling.py --cpu_devices=2 --model=vae --steps=50

For k = 1, 2, ... replicas, trains the model under a `MirroredStrategy`
over the first k devices (GPUs when visible, else `--cpu_devices` logical
CPUs) with a fixed batch *per replica*, so the global batch grows with k
(weak scaling, as data-parallel training is used), and prints one row per
k: global batch, samples per second, speedup over one replica and
efficiency (speedup / k). Tracing and the first steps are excluded.

Logical CPU devices share the same cores, so on a CPU the speedup shows
the overhead of mirroring rather than a gain; read the scaling off a
machine with several GPUs. This is a benchmark, not a test.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "ae", "Registered model name.")
flags.DEFINE_integer("cpu_devices", 2, "Logical CPUs when there is no GPU.")
flags.DEFINE_integer("per_replica_batch", 64, "Examples per replica.")
flags.DEFINE_integer("features", 784, "Input size (784: an MNIST image).")
flags.DEFINE_list("hidden_units", ["256", "64"], "Hidden sizes.")
flags.DEFINE_integer("steps", 30, "Timed steps per replica count.")
flags.DEFINE_integer("warmup_steps", 5, "Untimed steps after tracing.")
flags.DEFINE_integer("repeats", 3, "Timed runs; the best one is reported.")


def devices():
    """The devices to mirror over: GPUs, else logical CPUs."""
    import tensorflow as tf

    from kerasae.training import distribute
    if not tf.config.list_physical_devices("GPU"):
        distribute.configure_cpu_devices(FLAGS.cpu_devices)
        return [d.name for d in tf.config.list_logical_devices("CPU")]
    return [d.name for d in tf.config.list_logical_devices("GPU")]


def throughput(strategy, x):
    """Best samples per second of `FLAGS.repeats` timed `fit` calls."""
    import keras
    import tensorflow as tf

    from kerasae import models
    from kerasae.config import ModelConfig
    config = ModelConfig(
        name=FLAGS.model, hidden_units=tuple(map(int, FLAGS.hidden_units)),
        latent_dim=16, input_shape=(FLAGS.features,),
        reconstruction_loss="bce", output_activation="sigmoid",
        discriminator_units=(64,))
    batch = FLAGS.per_replica_batch * strategy.num_replicas_in_sync
    with strategy.scope():
        model = models.build(config)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds = tf.data.Dataset.from_tensor_slices(x).repeat().batch(
        batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    model.fit(ds, steps_per_epoch=FLAGS.warmup_steps, epochs=1, verbose=0,
              shuffle=False)
    best = 0.0
    for _ in range(FLAGS.repeats):
        started = time.perf_counter()
        model.fit(ds, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0,
                  shuffle=False)
        seconds = time.perf_counter() - started
        best = max(best, FLAGS.steps * batch / seconds)
    return batch, best


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # one line per strategy otherwise
    import numpy as np
    import tensorflow as tf
    names = devices()
    x = np.random.default_rng(0).uniform(
        size=(4096, FLAGS.features)).astype("float32")
    kind = "GPU" if "GPU" in names[0].upper() else "logical CPU"
    print(f"model={FLAGS.model}, {len(names)} {kind} device(s), "
          f"{FLAGS.per_replica_batch} examples per replica, "
          f"best of {FLAGS.repeats} x {FLAGS.steps} steps")
    print(f"{'replicas':>8} {'global batch':>12} {'samples/s':>10} "
          f"{'speedup':>8} {'efficiency':>10}")
    base = None
    for k in range(1, len(names) + 1):
        strategy = tf.distribute.MirroredStrategy(names[:k])
        batch, rate = throughput(strategy, x)
        base = base or rate
        print(f"{k:>8} {batch:>12} {rate:>10.0f} {rate / base:>8.2f} "
              f"{rate / base / k:>10.2f}")


if __name__ == "__main__":
    app.run(main)
