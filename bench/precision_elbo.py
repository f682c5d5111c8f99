"""What bfloat16 costs the MNIST VAE's test negative ELBO, over seeds.

    TFDS_DATA_DIR=../shared/tfds python bench/precision_elbo.py
    python bench/precision_elbo.py --seeds=0,1,2,3 --epochs=10

Trains `train.py`'s VAE on all 60,000 training images
(`--validation_fraction=0`, as the PyTorch example does) once per seed in
each precision, and evaluates every run in float32 (as
`kerasae.training` does) with `--eval_passes` single-sample passes over
the 10,000 test images:

- `float32`: `--matmul_precision=float32`;
- `bfloat16`: `--matmul_precision=bfloat16` (kerasae's: matmul and
  convolution inputs rounded, everything else float32);
- `keras_mixed_bfloat16`: Keras's `mixed_bfloat16` dtype policy for
  comparison (layer outputs, biases and activations in bfloat16 too; the
  encoder and decoder outputs cast back to float32 for the loss).

Prints one line per run, then the mean and spread per precision, and the
samples per second of each (wall clock, epochs 2..N of one `fit`); the
last line is JSON.
"""

import statistics

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("seeds", ["0", "1", "2", "3"], "Seeds, one run each.")
flags.DEFINE_list("precisions", ["float32", "bfloat16",
                                 "keras_mixed_bfloat16"], "What to compare.")
flags.DEFINE_integer("epochs", 10, "Epochs per run.")
flags.DEFINE_integer("eval_passes", 5, "Test-set passes averaged.")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")


def keras_mixed_model(config):
    """The VAE under Keras's `mixed_bfloat16` policy, float32 outputs."""
    import keras
    from keras import ops

    from kerasae import models
    from kerasae import training
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.build(config.model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    split, decode_logits = model.split, model.decode_logits
    model.split = lambda encoding: split(ops.cast(encoding, "float32"))
    model.decode_logits = lambda code, training=False: ops.cast(
        decode_logits(code, training), "float32")
    training.compile_model(model, config)
    return model


def run(bundle, precision, seed):
    """Trains one VAE; returns its test -ELBO and samples per second."""
    import keras

    from kerasae import data as kae_data
    from kerasae import training
    config = benchlib.resolved_config(
        bundle, batch_size=128, epochs=FLAGS.epochs, seed=seed,
        matmul_precision="float32" if precision.startswith("keras")
        else precision)
    keras.utils.set_random_seed(seed)
    if precision == "keras_mixed_bfloat16":
        model = keras_mixed_model(config)
    else:
        model = training.build_for_training(config, precision)
    train_ds, _ = training.datasets(model, bundle, config.train, 1)
    clock = benchlib.epoch_clock()
    model.fit(train_ds, epochs=FLAGS.epochs, shuffle=False, verbose=0,
              callbacks=[clock])
    seconds = [wall for wall, _ in clock.epochs]
    evaluator = training.float32_copy(model, config)
    test_ds = kae_data.make_dataset(bundle.test.x, batch_size=128)
    passes = [evaluator.evaluate(test_ds, verbose=0,
                                 return_dict=True)["neg_elbo"]
              for _ in range(FLAGS.eval_passes)]
    steady = seconds[1:] or seconds
    return {"test_neg_elbo": statistics.mean(passes),
            "samples_per_second": len(bundle.train.x)
            / statistics.median(steady)}


def main(argv):
    del argv
    info = benchlib.machine()
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    found = {precision: [] for precision in FLAGS.precisions}
    # Seeds outside, precisions inside: load changes hit all alike.
    for seed in map(int, FLAGS.seeds):
        for precision in FLAGS.precisions:
            record = run(bundle, precision, seed)
            found[precision].append(record)
            print(f"seed {seed} {precision:<22} test -ELBO "
                  f"{record['test_neg_elbo']:.3f}, "
                  f"{record['samples_per_second']:.0f} samples/s",
                  flush=True)
    summary = {}
    print()
    for precision, records in found.items():
        elbos = [r["test_neg_elbo"] for r in records]
        rates = [r["samples_per_second"] for r in records]
        summary[precision] = {
            "test_neg_elbo": elbos,
            "mean": statistics.mean(elbos),
            "stdev": statistics.stdev(elbos) if len(elbos) > 1 else 0.0,
            "samples_per_second_median": statistics.median(rates),
        }
        s = summary[precision]
        print(f"{precision:<22} test -ELBO mean {s['mean']:.3f} "
              f"(sd {s['stdev']:.3f}, n={len(elbos)}), "
              f"{s['samples_per_second_median']:.0f} samples/s")
    info["load_average_after"] = benchlib.machine()["load_average"]
    benchlib.emit({"bench": "precision_elbo", "machine": info,
                   "epochs": FLAGS.epochs, "seeds": FLAGS.seeds,
                   "results": summary})


if __name__ == "__main__":
    app.run(main)
