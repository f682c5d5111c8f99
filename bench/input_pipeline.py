"""The CPU cost of kerasae's input pipeline alone, against the usual one.

    python bench/input_pipeline.py
    python bench/input_pipeline.py --batch_size=1024 --rounds=7

Iterates over MNIST's 60,000 training images, shuffled and batched, with
no model, and reports examples per second of wall clock and of process
CPU time (median over rounds, the two pipelines alternating):

- `gather`: `kerasae.data.make_dataset` as training uses it (one
  permutation per epoch, cut into index batches, one gather per batch);
- `gather_position`: the same with the `position` variable training
  passes since resuming replays the data order (each epoch's order a
  function of (seed, epoch), read from the variable per iteration);
- `per_example`: `from_tensor_slices(x).shuffle(n).batch(b).prefetch`,
  the pipeline of most tutorials and kerasae's before, which slices,
  shuffles and batches example by example;
- `consumer`: as many empty elements as there are batches, through the
  same loop: the cost of the loop itself, subtracted from the other two
  in the last column (the pipeline's own CPU time per example).

On a 2-core machine the pipeline's thread shares the cores with the
training step, so its CPU time is what it takes from training.

`--autotune_epochs=N` measures something else: the MNIST VAE
(`train.py`'s defaults) trained by `fit`s of N epochs over `make_dataset`
as it is (tf.data's autotuner off) and with the autotuner switched back
on, twice each, alternating; it prints every epoch's samples per second
and how many epochs ran slower than 0.8 times the fastest one. With the
autotuner on, whole epochs of a long `fit` ran on one core with the
other idle (one-epoch `fit`s rarely show it).
"""

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("epochs", 2, "Epochs per measurement.")
flags.DEFINE_integer("rounds", 5, "Measurements of each pipeline.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: default).")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_integer("autotune_epochs", 0,
                     "Epochs of VAE training with the autotuner off and on "
                     "(0: measure the pipelines alone).")


def per_example(x, batch_size, seed):
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices(x).shuffle(
        len(x), seed=seed, reshuffle_each_iteration=True).batch(
            batch_size).prefetch(tf.data.AUTOTUNE)


def candidates(x):
    import tensorflow as tf

    from kerasae import data as kae_data
    pipelines = {
        "gather": kae_data.make_dataset(
            x, batch_size=FLAGS.batch_size, shuffle=True),
        "gather_position": kae_data.make_dataset(
            x, batch_size=FLAGS.batch_size, shuffle=True,
            position=tf.Variable(0, dtype=tf.int64)),
        "per_example": per_example(x, FLAGS.batch_size, 0),
        "consumer": tf.data.Dataset.from_tensors(
            tf.zeros([FLAGS.batch_size], tf.int32)).repeat(
                -(-len(x) // FLAGS.batch_size)),
    }

    def runner(ds):
        # `reduce` iterates in TensorFlow's runtime, as `fit` does, with
        # no Python per batch.
        def run():
            return sum(int(ds.reduce(0, lambda n, batch: n + tf.shape(
                batch, out_type=tf.int32)[0])) for _ in range(FLAGS.epochs))
        return run

    for ds in pipelines.values():  # warm up: the first iterator's set-up
        runner(ds)()
    return {name: runner(ds) for name, ds in pipelines.items()}


def autotune_epochs(bundle):
    """Epoch rates of VAE training with tf.data's autotuner off and on."""
    import tensorflow as tf

    from kerasae import training
    config = benchlib.resolved_config(bundle, batch_size=FLAGS.batch_size)
    model = benchlib.build_compiled(config)
    off, _ = training.datasets(model, bundle, config.train, 1)
    options = tf.data.Options()
    options.autotune.enabled = True
    on = off.with_options(options)
    model.fit(off, epochs=1, verbose=0)  # tracing
    rates = {"autotune off": [], "autotune on": []}
    for _ in range(2):
        for name, ds in zip(rates, (off, on)):
            clock = benchlib.epoch_clock()
            model.fit(ds, epochs=FLAGS.autotune_epochs, verbose=0,
                      callbacks=[clock])
            rates[name] += [round(len(bundle.train.x) / seconds)
                            for seconds, _ in clock.epochs]
    fastest = max(max(r) for r in rates.values())
    for name, found in rates.items():
        slow = sum(r < 0.8 * fastest for r in found)
        benchlib.emit({"bench": "input_pipeline", "pipeline": name,
                       "epoch_samples_per_second": found, "slow_epochs": slow})
        print(f"{name:<13} median {sorted(found)[len(found) // 2]:>7} "
              f"samples/s, {slow} of {len(found)} epochs below 0.8x the "
              f"fastest: {found}")


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads)
    if FLAGS.autotune_epochs:
        return autotune_epochs(benchlib.load_mnist(FLAGS.data_dir))
    x = benchlib.load_mnist(FLAGS.data_dir).train.x
    results = benchlib.measure_rounds(candidates(x), FLAGS.rounds)
    benchlib.emit({"bench": "input_pipeline", "machine": info,
                   "batch_size": FLAGS.batch_size, "examples": len(x)})
    consumer_us = 1e6 / results["consumer"]["cpu_median"]
    print(f"\n{'pipeline':<12} {'examples/s med':>15} {'best':>10} "
          f"{'per CPU-s':>10} {'CPU us/example':>15} {'net of loop':>12}")
    for name, found in results.items():
        cpu_us = 1e6 / found["cpu_median"]
        benchlib.emit({"bench": "input_pipeline", "pipeline": name,
                       "examples_per_second": found,
                       "cpu_us_per_example": round(cpu_us, 3),
                       "net_cpu_us_per_example": round(cpu_us - consumer_us,
                                                       3)})
        print(f"{name:<12} {found['median']:>15.0f} {found['best']:>10.0f} "
              f"{found['cpu_median']:>10.0f} {cpu_us:>15.2f} "
              f"{cpu_us - consumer_us:>12.2f}")


if __name__ == "__main__":
    app.run(main)
