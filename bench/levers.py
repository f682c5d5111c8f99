"""Which speed levers help the MNIST VAE on this CPU, measured in rounds.

    python bench/levers.py                          # batch 128
    python bench/levers.py --batch_size=1024 --rounds=7
    TF_ENABLE_ONEDNN_OPTS=0 python bench/levers.py  # oneDNN off
    python bench/levers.py --threads=2              # intra 2, inter 1
    python bench/levers.py --jit=false --steps_per_execution=20 \
        --precision=float32,bfloat16 --adam=fused,keras

For every combination of `--jit` (XLA), `--steps_per_execution`,
`--precision` (`--matmul_precision`) and `--adam` (kerasae's fused Adam or
Keras's own), builds the VAE as `train.py` does and times two things,
alternating with all other candidates in each round:

- `epoch`: one full `fit` epoch over the real input pipeline
  (`kerasae.training.datasets`: shuffle, batch, prefetch), what a user's
  epoch costs;
- `step`: as many steps (rounded up to whole executions) over one batch
  held in memory
  (`Dataset.from_tensors(batch).repeat()`), the model step alone.

`epoch / step` near 1 means the input pipeline is not the bottleneck.
oneDNN and thread settings act at start-up, so they are compared by
running the script once per setting. Tracing and a first epoch are
excluded. Prints one JSON line per candidate and a table; the last two
columns are samples per second of process CPU time, which load disturbs
less than the wall clock.
"""

import itertools

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_list("jit", ["false", "true"], "jit_compile values to try.")
flags.DEFINE_list("steps_per_execution", ["1", "10", "50"],
                  "steps_per_execution values to try.")
flags.DEFINE_list("precision", ["auto"],
                  "matmul_precision values to try (auto, float32, bfloat16).")
flags.DEFINE_list("adam", ["fused"],
                  "fused (kerasae.training.optimizers.Adam) and/or keras "
                  "(keras.optimizers.Adam).")
flags.DEFINE_integer("rounds", 5, "Measurements of each candidate.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: default).")
benchlib.define_thread_pools_flag()
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_string("arch", "dense", "dense or conv.")


def candidates(bundle):
    """name -> work callable, for every jit x steps_per_execution."""
    import keras
    import tensorflow as tf

    from kerasae import training
    found = {}
    batch = FLAGS.batch_size
    steps = -(-len(bundle.train.x) // batch)
    one_batch = tf.data.Dataset.from_tensors(bundle.train.x[:batch]).repeat()
    for jit, spe, precision, adam in itertools.product(
            FLAGS.jit, FLAGS.steps_per_execution, FLAGS.precision,
            FLAGS.adam):
        config = benchlib.resolved_config(
            bundle, arch=FLAGS.arch, batch_size=batch,
            jit_compile=jit == "true", steps_per_execution=int(spe),
            matmul_precision=precision)
        model = benchlib.build_compiled(config)
        if adam == "keras":
            model.compile(
                optimizer=keras.optimizers.Adam(config.train.learning_rate),
                steps_per_execution=int(spe), jit_compile=jit == "true")
        train_ds, _ = training.datasets(model, bundle, config.train, 1)
        # The first epoch traces and warms up; it is not timed.
        model.fit(train_ds, epochs=1, verbose=0)
        model.fit(one_batch, steps_per_epoch=steps, epochs=1, verbose=0)
        name = f"jit={jit} spe={spe} {precision} {adam}"

        def epoch(model=model, train_ds=train_ds):
            return benchlib.timed_fit(model, train_ds, len(bundle.train.x))

        count = benchlib.whole_executions(steps, int(spe))

        def step(model=model, count=count):
            return benchlib.timed_fit(model, one_batch, count * batch,
                                      steps_per_epoch=count)

        found[f"{name} epoch"] = epoch
        found[f"{name} step"] = step
    return found


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads, FLAGS.thread_pools,
                          FLAGS.batch_size)
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    results = benchlib.measure_rounds(candidates(bundle), FLAGS.rounds)
    info["load_average_after"] = benchlib.machine()["load_average"]
    benchlib.emit({"bench": "levers", "machine": info,
                   "batch_size": FLAGS.batch_size, "arch": FLAGS.arch,
                   "threads": FLAGS.threads})
    print(f"\n{'candidate':<36} {'epoch/s med':>12} {'step/s med':>11} "
          f"{'epoch best':>11} {'step best':>10} {'epoch/step':>10} "
          f"{'epoch/cpu-s':>12} {'step/cpu-s':>11}")
    names = sorted({n.rsplit(" ", 1)[0] for n in results})
    for name in names:
        epoch, step = results[f"{name} epoch"], results[f"{name} step"]
        benchlib.emit({"bench": "levers", "candidate": name,
                       "epoch": epoch, "step": step})
        print(f"{name:<36} {epoch['median']:>12.0f} {step['median']:>11.0f} "
              f"{epoch['best']:>11.0f} {step['best']:>10.0f} "
              f"{epoch['median'] / step['median']:>10.3f} "
              f"{epoch['cpu_median']:>12.0f} {step['cpu_median']:>11.0f}")


if __name__ == "__main__":
    app.run(main)
