"""kerasae's MNIST VAE against the PyTorch example's, in one run.

    TFDS_DATA_DIR=../shared/tfds python bench/vae_vs_pytorch.py  # defaults
    python bench/vae_vs_pytorch.py --threads=2     # both pinned to 2 threads
    python bench/vae_vs_pytorch.py --torch_python=/path/to/venv/bin/python

Trains kerasae's VAE (`train.py`'s defaults on all 60,000 training images,
as the example does: `--validation_fraction=0`) and the PyTorch reference
(`bench/pytorch_vae.py`, run by `bench/torch_worker.py` in the torch
environment) on the same pixels, for the same number of epochs at the
same batch size, *alternating epoch by epoch* (which one goes first
alternates too), so the load of a shared machine falls on both alike.
After every epoch each is evaluated on the 10,000 test images
(`--eval_passes` single-sample estimates of the negative ELBO, averaged;
evaluation is not timed).

Prints one line per epoch and a summary: samples per second of each over
epochs 2..N (the first epoch, with tracing, excluded), the ratio kerasae /
PyTorch, and the test negative ELBO of each after the last epoch; the last
line is JSON. `--threads=0` leaves both at their defaults (PyTorch: one
thread per core; kerasae: the thread pools `train.py --thread_pools=auto`
picks for this VAE, or `--thread_pools`); `--threads=N` gives torch N
threads and TensorFlow N intra-op threads and one inter-op thread.
"""

import json
import os
import statistics
import subprocess
import sys

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 10, "Epochs for both.")
flags.DEFINE_integer("batch_size", 128, "Batch size for both.")
flags.DEFINE_integer("threads", 0, "Threads for both (0: defaults).")
benchlib.define_thread_pools_flag("auto")
flags.DEFINE_integer("eval_passes", 5, "Test-set passes averaged per epoch.")
flags.DEFINE_string("torch_python", "/work/torchvenv/bin/python",
                    "Python with torch 2.13 and numpy.")
flags.DEFINE_string("mnist", "/tmp/mnist.npz",
                    "MNIST .npz for torch (written from TFDS if missing).")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_integer("steps_per_execution", None,
                     "Override kerasae's default (None: keep it).")
flags.DEFINE_bool("jit_compile", None, "Override kerasae's default.")
flags.DEFINE_enum("matmul_precision", None, ["auto", "float32", "bfloat16"],
                  "Override kerasae's default (auto).")

HERE = os.path.dirname(os.path.abspath(__file__))


class TorchReference:
    """The torch worker subprocess, one epoch per `epoch()` call."""

    def __init__(self):
        if not os.path.exists(FLAGS.mnist):
            command = [sys.executable, os.path.join(HERE, "export_mnist.py"),
                       f"--out={FLAGS.mnist}"]
            if FLAGS.data_dir:
                command.append(f"--data_dir={FLAGS.data_dir}")
            subprocess.run(command, check=True)
        self.process = subprocess.Popen(
            [FLAGS.torch_python, os.path.join(HERE, "torch_worker.py"),
             f"--mnist={FLAGS.mnist}", f"--batch_size={FLAGS.batch_size}",
             f"--threads={FLAGS.threads}",
             f"--eval_passes={FLAGS.eval_passes}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._reply()

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the torch worker exited; see its stderr")
        return json.loads(line)

    def epoch(self):
        self.process.stdin.write("train\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


class KerasaeVAE:
    """kerasae's VAE as `train.py` builds, compiles and feeds it."""

    def __init__(self, bundle):
        from kerasae import data as kae_data
        from kerasae import training
        from kerasae.training import precision
        overrides = {}
        if FLAGS.steps_per_execution is not None:
            overrides["steps_per_execution"] = FLAGS.steps_per_execution
        if FLAGS.jit_compile is not None:
            overrides["jit_compile"] = FLAGS.jit_compile
        if FLAGS.matmul_precision is not None:
            overrides["matmul_precision"] = FLAGS.matmul_precision
        self.config = benchlib.resolved_config(
            bundle, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs,
            **overrides)
        self.model = benchlib.build_compiled(self.config)
        self.precision = precision.resolve(
            self.config.train.matmul_precision)
        # Evaluated in float32, as `kerasae.training` evaluates.
        self.eval_model = self.model if self.precision == "float32" else \
            training.float32_copy(self.model, self.config)
        self.train_ds, _ = training.datasets(
            self.model, bundle, self.config.train, 1)
        self.test_ds = kae_data.make_dataset(
            bundle.test.x, batch_size=FLAGS.batch_size)
        self.samples = len(bundle.train.x)

    def train(self, before_epoch, after_epoch):
        """Trains all epochs in one `fit`, as `train.py` does.

        `before_epoch(epoch)` runs before each epoch's clock starts and
        `after_epoch(epoch, record)` after it stops, so the PyTorch epochs
        run between kerasae's without entering their times. One `fit` for
        all epochs matters: a `fit` per epoch would also time the teardown
        of the input pipeline's iterator at each return, which can stall
        for a second (tf.data's autotuning thread) and never happens
        between the epochs of one `fit`.
        """
        def record(epoch, seconds, cpu_seconds, logs):
            after_epoch(epoch, dict(
                self.evaluate(), seconds=seconds, cpu_seconds=cpu_seconds,
                train_loss=logs["loss"]))

        self.model.fit(
            self.train_ds, epochs=FLAGS.epochs, shuffle=False, verbose=0,
            callbacks=[benchlib.epoch_clock(before_epoch, record)])

    def evaluate(self):
        """Test negative ELBO, `--eval_passes` single-sample passes."""
        if self.eval_model is not self.model:
            self.eval_model.set_weights(self.model.get_weights())
        passes = [self.eval_model.evaluate(self.test_ds, verbose=0,
                                           return_dict=True)["neg_elbo"]
                  for _ in range(FLAGS.eval_passes)]
        return {"test_neg_elbo": passes[0], "test_neg_elbo_passes": passes}


def rate(samples, epochs, key="seconds"):
    """Samples per second over epochs 2..N (all when only one)."""
    steady = epochs[1:] or epochs
    return {
        "mean": samples * len(steady) / sum(e[key] for e in steady),
        "median": samples / statistics.median(e[key] for e in steady),
    }


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads, FLAGS.thread_pools,
                         FLAGS.batch_size)
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    torch_ref = TorchReference()
    info["torch"] = torch_ref.info["torch"]
    info["torch_threads"] = torch_ref.info["threads"]
    kerasae = KerasaeVAE(bundle)
    t = kerasae.config.train
    print(f"kerasae VAE (steps_per_execution={t.steps_per_execution}, "
          f"jit_compile={t.jit_compile}, matmul_precision="
          f"{kerasae.precision}) vs PyTorch example, "
          f"batch {FLAGS.batch_size}, threads={FLAGS.threads or 'default'}"
          f" (kerasae thread pools: {info['thread_pools']})"
          f", load {info['load_average']}", flush=True)
    runs = {"kerasae": [], "pytorch": []}

    def report(name, epoch, record):
        record["test_neg_elbo_mean"] = statistics.mean(
            record["test_neg_elbo_passes"])
        runs[name].append(record)
        print(f"epoch {epoch + 1:2d} {name:8s} "
              f"{record['seconds']:6.2f} s "
              f"({kerasae.samples / record['seconds']:8.0f} samples/s), "
              f"train loss {record['train_loss']:.3f}, test neg ELBO "
              f"{record['test_neg_elbo_mean']:.3f}", flush=True)

    # Who goes first alternates: PyTorch before kerasae's odd epochs,
    # after its even ones.
    def before_epoch(epoch):
        if epoch % 2:
            report("pytorch", epoch, torch_ref.epoch())

    def after_epoch(epoch, record):
        report("kerasae", epoch, record)
        if not epoch % 2:
            report("pytorch", epoch, torch_ref.epoch())

    kerasae.train(before_epoch, after_epoch)
    torch_ref.close()
    info["load_average_after"] = benchlib.machine()["load_average"]
    found = {"bench": "vae_vs_pytorch", "machine": info,
             "epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size,
             "threads": FLAGS.threads,
             "kerasae_train_config": {
                 "steps_per_execution": t.steps_per_execution,
                 "jit_compile": t.jit_compile,
                 "matmul_precision": kerasae.precision}}
    for name, epochs in runs.items():
        found[name] = {
            "samples_per_second": rate(kerasae.samples, epochs),
            "samples_per_cpu_second": rate(
                kerasae.samples, epochs, "cpu_seconds"),
            "test_neg_elbo": epochs[-1]["test_neg_elbo_mean"],
            "test_neg_elbo_passes": epochs[-1]["test_neg_elbo_passes"],
        }
    ours, theirs = found["kerasae"], found["pytorch"]
    for key in ("mean", "median"):
        found[f"ratio_{key}"] = (ours["samples_per_second"][key]
                                 / theirs["samples_per_second"][key])
    found["cpu_ratio_median"] = (ours["samples_per_cpu_second"]["median"]
                                 / theirs["samples_per_cpu_second"]["median"])
    print(f"\nsamples/s (epochs 2-{FLAGS.epochs}, median): kerasae "
          f"{ours['samples_per_second']['median']:.0f}, PyTorch "
          f"{theirs['samples_per_second']['median']:.0f}, ratio "
          f"{found['ratio_median']:.2f} (mean-based "
          f"{found['ratio_mean']:.2f}; per CPU second "
          f"{found['cpu_ratio_median']:.2f})")
    print(f"test neg ELBO after {FLAGS.epochs} epochs "
          f"(mean of {FLAGS.eval_passes} passes): kerasae "
          f"{ours['test_neg_elbo']:.3f}, PyTorch "
          f"{theirs['test_neg_elbo']:.3f}")
    benchlib.emit(found)


if __name__ == "__main__":
    app.run(main)
