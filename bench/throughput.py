"""Training throughput of every registered model, dense and conv, on MNIST.

    python bench/throughput.py
    python bench/throughput.py --models=vae,ae --batch_sizes=128 --rounds=5
    python bench/throughput.py --models=vae,ae --precisions=float32,bfloat16

For each model in the registry, each architecture (`dense`: the default
784-400-code; `conv`: stride-2 convolutions with 32 and 64 filters) and
each batch size (and each `--precisions` value, `auto` by default), builds
and compiles the model as `train.py` does (its `TrainConfig` defaults:
`steps_per_execution`, `jit_compile`) and feeds it
the real input pipeline (`kerasae.training.datasets`). A first `fit` of
`--warmup_steps` (tracing, the first epoch's start-up) is not timed; then
every candidate is timed for about `--samples` training examples (a fifth
of that for conv) once per round, all candidates alternating, and the
median and best samples per second over rounds are reported.
"""

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("models", [], "Models to time (default: all registered).")
flags.DEFINE_list("archs", ["dense", "conv"], "Architectures.")
flags.DEFINE_list("batch_sizes", ["128", "1024"], "Global batch sizes.")
flags.DEFINE_integer("samples", 25600, "Examples per dense measurement.")
flags.DEFINE_integer("warmup_steps", 20, "Untimed steps first.")
flags.DEFINE_integer("rounds", 3, "Measurements of each candidate.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: default).")
benchlib.define_thread_pools_flag()
flags.DEFINE_list("precisions", ["auto"], "matmul_precision values.")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")


def candidate(bundle, name, arch, batch, precision):
    """A work callable timing `name`/`arch` at `batch`, warmed up."""
    from kerasae import training
    from kerasae.config import TrainConfig
    samples = FLAGS.samples if arch == "dense" else FLAGS.samples // 5
    # Whole executions of the default steps_per_execution (with other
    # counts kerasae would pick a smaller divisor of the epoch).
    steps = benchlib.whole_executions(
        max(1, samples // batch), TrainConfig.steps_per_execution)
    # steps_per_epoch: the data repeats, in epochs of `steps`.
    config = benchlib.resolved_config(
        bundle, name=name, arch=arch, batch_size=batch,
        steps_per_epoch=steps, matmul_precision=precision)
    model = benchlib.build_compiled(config)
    train_ds, _ = training.datasets(model, bundle, config.train, 1)
    model.fit(train_ds, steps_per_epoch=FLAGS.warmup_steps, epochs=1,
              verbose=0)

    def work():
        return benchlib.timed_fit(model, train_ds, steps * batch,
                                  steps_per_epoch=steps)

    return work, config.train


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads, FLAGS.thread_pools)
    from kerasae import models
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    names = FLAGS.models or models.MODELS.names()
    candidates = {}
    train_config = None
    for name in names:
        for arch in FLAGS.archs:
            for batch in map(int, FLAGS.batch_sizes):
                for precision in FLAGS.precisions:
                    work, train_config = candidate(
                        bundle, name, arch, batch, precision)
                    candidates[(name, arch, batch, precision)] = work
    results = benchlib.measure_rounds(candidates, FLAGS.rounds)
    info["load_average_after"] = benchlib.machine()["load_average"]
    benchlib.emit({"bench": "throughput", "machine": info,
                   "steps_per_execution": train_config.steps_per_execution,
                   "jit_compile": train_config.jit_compile})
    print(f"\n{'model':<10} {'arch':<6} {'batch':>5} {'precision':>9} "
          f"{'samples/s med':>14} {'best':>8} {'per CPU-s':>10}")
    for (name, arch, batch, precision), found in results.items():
        benchlib.emit({"bench": "throughput", "model": name, "arch": arch,
                       "batch": batch, "matmul_precision": precision,
                       "samples_per_second": found})
        print(f"{name:<10} {arch:<6} {batch:>5} {precision:>9} "
              f"{found['median']:>14.0f} {found['best']:>8.0f} "
              f"{found['cpu_median']:>10.0f}")


if __name__ == "__main__":
    app.run(main)
