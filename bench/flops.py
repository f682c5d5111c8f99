"""Achieved GFLOP/s of a VAE training step against the machine's matmul rate.

    python bench/flops.py
    python bench/flops.py --batch_sizes=128,1024 --rounds=7

Three figures, measured in alternating rounds (median and best):

1. The machine's rate: a large square matmul (`--matmul_size`) in
   TensorFlow (oneDNN), float32 and bfloat16, and in NumPy (its BLAS).
2. The same matmuls as one VAE training step, alone: the forward,
   weight-gradient and input-gradient products of every dense layer at the
   step's shapes, chained in one `tf.function`, in the precision the step
   multiplies in. This is what these small, skinny shapes allow, before
   any framework overhead.
3. The VAE training step itself (`fit` on one batch held in memory, so no
   input pipeline), built and compiled as `train.py` does (its matmul
   precision, `auto`, is bfloat16 on a CPU with native bfloat16).

Percentages are of TensorFlow's large matmul in the step's precision.

FLOPs are counted from the layer shapes, 2 per multiply-add, matmuls only:
forward x @ W, the weight gradient x^T @ dy and the input gradient
dy @ W^T for every layer but the first (the pixels need no gradient).
Elementwise work (activations, the loss, Adam) is not counted, so the
achieved figure is a lower bound on the work done.
"""

import time

import benchlib
import numpy as np
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("batch_sizes", ["128", "1024"], "Batch sizes.")
flags.DEFINE_integer("matmul_size", 2048, "Side of the square matmul.")
flags.DEFINE_integer("rounds", 5, "Measurements of each.")
flags.DEFINE_integer("steps", 100, "Training steps per measurement "
                     "at batch 128 (scaled down for larger batches).")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: default).")


def dense_shapes(model):
    """(inputs, outputs) of every Dense kernel, encoder then decoder."""
    return [tuple(int(d) for d in layer.kernel.shape)
            for part in (model.encoder, model.decoder)
            for layer in part.layers if hasattr(layer, "kernel")]


def step_flops(shapes, batch):
    """Matmul FLOPs of one training step (see the module docstring)."""
    total = 0
    for index, (fan_in, fan_out) in enumerate(shapes):
        products = 3 if index else 2  # no input gradient for the pixels
        total += products * 2 * batch * fan_in * fan_out
    return total


def matmul_candidates(n):
    """Large square matmuls: TensorFlow (float32, bfloat16) and NumPy."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    calls = max(1, int(4e10 // (2 * n**3)))  # about 40 GFLOP each

    def tf_matmul(dtype):
        ta, tb = tf.cast(a, dtype), tf.cast(b, dtype)
        product = tf.function(lambda: tf.reduce_sum(tf.matmul(ta, tb)))
        product()

        def run():
            for _ in range(calls):
                product().numpy()
            return calls * 2 * n**3

        return run

    def numpy_matmul():
        for _ in range(calls):
            a @ b
        return calls * 2 * n**3

    return {f"tf matmul {n} float32": tf_matmul(tf.float32),
            f"tf matmul {n} bfloat16": tf_matmul(tf.bfloat16),
            f"numpy matmul {n} float32": numpy_matmul}


def step_matmuls(shapes, batch, dtype):
    """The step's matmuls alone, chained in one `tf.function`."""
    import tensorflow as tf
    rng = np.random.default_rng(0)

    def constant(shape):
        return tf.cast(rng.random(shape, dtype=np.float32), dtype)

    tensors = [(constant((batch, i)), constant((i, o)), constant((batch, o)))
               for i, o in shapes]

    @tf.function
    def run():
        total = 0.0
        for index, (x, w, dy) in enumerate(tensors):
            total += tf.reduce_sum(tf.cast(tf.matmul(x, w), tf.float32))
            total += tf.reduce_sum(tf.cast(
                tf.matmul(x, dy, transpose_a=True), tf.float32))
            if index:
                total += tf.reduce_sum(tf.cast(
                    tf.matmul(dy, w, transpose_b=True), tf.float32))
        return total

    run()
    return run


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads)
    import tensorflow as tf

    from kerasae.training import precision
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    candidates = matmul_candidates(FLAGS.matmul_size)
    flops = {name: 2 * FLAGS.matmul_size**3 for name in candidates}
    shapes = None
    for batch in map(int, FLAGS.batch_sizes):
        config = benchlib.resolved_config(bundle, batch_size=batch)
        model = benchlib.build_compiled(config)
        shapes = dense_shapes(model)
        per_step = step_flops(shapes, batch)
        steps = benchlib.whole_executions(
            max(10, FLAGS.steps * 128 // batch), model.steps_per_execution)
        one_batch = tf.data.Dataset.from_tensors(
            bundle.train.x[:batch]).repeat()
        model.fit(one_batch, steps_per_epoch=steps, epochs=1, verbose=0)
        step_precision = precision.resolve(config.train.matmul_precision)
        run = step_matmuls(shapes, batch, tf.dtypes.as_dtype(step_precision))

        def step(model=model, data=one_batch, steps=steps, flops=per_step):
            return benchlib.timed_fit(model, data, steps * flops,
                                      steps_per_epoch=steps)

        def matmuls(run=run, steps=steps, flops=per_step):
            for _ in range(steps):
                run().numpy()
            return steps * flops

        candidates[f"vae step matmuls only, batch {batch}"] = matmuls
        candidates[f"vae training step, batch {batch}"] = step
        flops[f"vae training step, batch {batch}"] = per_step
        info["step_precision"] = step_precision
    # measure_rounds counts "samples"; here each callable returns FLOPs.
    started = time.perf_counter()
    results = benchlib.measure_rounds(candidates, FLAGS.rounds)
    info["load_average_after"] = benchlib.machine()["load_average"]
    peak = results[f"tf matmul {FLAGS.matmul_size} "
                   f"{info.get('step_precision', 'float32')}"]["best"]
    benchlib.emit({"bench": "flops", "machine": info, "dense_shapes": shapes,
                   "seconds": round(time.perf_counter() - started, 1)})
    print(f"\n{'what':<38} {'GFLOP/s med':>12} {'best':>8} "
          f"{'% of TF matmul best':>20} (the step's precision: "
          f"{info.get('step_precision')})")
    for name, found in results.items():
        gflops = {k: found[k] / 1e9 for k in ("median", "best")}
        benchlib.emit({"bench": "flops", "what": name, "gflops": gflops,
                       "flops_per_call": flops.get(name)})
        print(f"{name:<38} {gflops['median']:>12.1f} {gflops['best']:>8.1f} "
              f"{100 * found['median'] / peak:>19.0f}%")
    for batch in map(int, FLAGS.batch_sizes):
        print(f"matmul GFLOP per VAE step at batch {batch}: "
              f"{step_flops(shapes, batch) / 1e9:.3f}")


if __name__ == "__main__":
    app.run(main)
