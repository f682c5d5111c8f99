"""kerasae's training step against the same models in PyTorch and
JAX/Flax, side by side in one run.

    python bench/vs_references.py                     # this CPU as it is
    python bench/vs_references.py --isa=avx2          # as an AVX2-only CPU
    python bench/vs_references.py --models=conv_vae --rounds=7

Models (batch 128 each, kerasae's defaults for everything else):

- `dense_vae`: kerasae's MNIST VAE against the PyTorch examples' VAE
  (`bench/pytorch_vae.py`) and the same VAE in JAX + Flax + Optax with a
  jitted step (`bench/flax_vae.py`);
- `conv_vae`: `--arch=conv` against its layers in PyTorch
  (`bench/torch_models.py`);
- `conv1d_ae`: `--model=ae --arch=conv1d` on 48-step windows of a
  generated two-sensor log against its layers in PyTorch.

Each model is measured in a process of its own, with the thread pools
`train.py --thread_pools=auto` picks for it. Each reference runs in its
own environment (`--torch_python`, `--jax_python`) as
`bench/reference_worker.py`, on the same training examples as kerasae,
and trains a fixed number of steps per request (`STEPS`, a few seconds'
work); kerasae trains the same number of steps in one `fit` epoch over
its own input pipeline.
The frameworks take turns within every round, so load falls on all alike,
each after `--pause` idle seconds (a framework's threads spin for a while
after its work, which would slow the next one down).
Samples per second are medians over `--rounds`; the ratios are kerasae's
over each reference's.

`--isa=avx2` caps every framework at AVX2 + FMA, as on a CPU without
AVX-512 or bfloat16: oneDNN (TensorFlow's and PyTorch's,
`ONEDNN_MAX_CPU_ISA`), MKL (`MKL_ENABLE_INSTRUCTIONS`), PyTorch's own
kernels (`ATEN_CPU_CAPABILITY`) and XLA (JAX's, `--xla_cpu_max_isa`).
kerasae's `--matmul_precision=auto` then picks float32. Prints a table;
the last line is JSON.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import benchlib
import numpy as np
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["dense_vae", "conv_vae", "conv1d_ae"],
                  "Models to compare.")
flags.DEFINE_enum("isa", "native", ["native", "avx2"],
                  "native: the CPU as it is; avx2: capped at AVX2 + FMA.")
flags.DEFINE_integer("rounds", 5, "Measurements of each framework.")
flags.DEFINE_integer("batch_size", 128, "Batch size for all.")
flags.DEFINE_string("torch_python", "/work/torchvenv/bin/python",
                    "Python of an environment with torch.")
flags.DEFINE_string("jax_python", "/work/jaxvenv/bin/python",
                    "Python of an environment with jax, flax and optax "
                    "('' to leave JAX out).")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_float("pause", 1.0, "Idle seconds before each measurement, so "
                   "the threads of the framework that ran last are asleep.")
benchlib.define_thread_pools_flag("auto")

HERE = os.path.dirname(os.path.abspath(__file__))
# Steps per request: about a second or more of training each.
STEPS = {"dense_vae": 400, "conv_vae": 40, "conv1d_ae": 400}
MODELS = {"dense_vae": ("vae", "dense", (28, 28, 1)),
          "conv_vae": ("vae", "conv", (28, 28, 1)),
          "conv1d_ae": ("ae", "conv1d", (48, 2))}
CAPS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}


class Reference:
    """A `reference_worker.py` process; `train()` times `steps` steps."""

    def __init__(self, python, framework, model, data, steps):
        self.steps = steps
        self.process = subprocess.Popen(
            [python, os.path.join(HERE, "reference_worker.py"),
             f"--framework={framework}", f"--model={model}",
             f"--data={data}", f"--batch_size={FLAGS.batch_size}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=HERE)
        self.info = self._reply()

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"{self.process.args[1]} exited: see above")
        return json.loads(line)

    def train(self):
        time.sleep(FLAGS.pause)
        self.process.stdin.write(f"train {self.steps}\n")
        self.process.stdin.flush()
        found = self._reply()
        return (self.steps * FLAGS.batch_size, found["seconds"],
                found["cpu_seconds"])

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def series_bundle(folder):
    """The windows of a generated two-sensor log (20,000 steps)."""
    from kerasae.config import DataConfig
    from kerasae.data import loader
    t = np.arange(20_000)
    rng = np.random.default_rng(0)
    values = np.stack([np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 60)],
                      1) + rng.normal(0, 0.1, (len(t), 2))
    path = os.path.join(folder, "sensors.csv")
    np.savetxt(path, values, delimiter=",", header="a,b", comments="",
               fmt="%.5f")
    return loader.load(DataConfig(dataset=path, window=48))


def kerasae_candidate(model, bundle, steps):
    """The model as `train.py` builds it, timed `steps` steps per call."""
    from kerasae import training
    from kerasae.config import TrainConfig
    name, arch, _ = MODELS[model]
    steps = benchlib.whole_executions(steps,
                                      TrainConfig.steps_per_execution)
    config = benchlib.resolved_config(
        bundle, name=name, arch=arch, batch_size=FLAGS.batch_size,
        steps_per_epoch=steps)
    built = benchlib.build_compiled(config)
    train_ds, _ = training.datasets(built, bundle, config.train, 1)
    built.fit(train_ds, steps_per_epoch=steps, epochs=1, verbose=0)

    def work():
        time.sleep(FLAGS.pause)
        return benchlib.timed_fit(built, train_ds, steps * FLAGS.batch_size,
                                  steps_per_epoch=steps)

    return work, steps


def start(model):
    """Sets the thread pools `train.py` picks for `model` (before anything
    starts TensorFlow's runtime); returns the machine record."""
    from kerasae.config import Config
    from kerasae.config import ModelConfig
    from kerasae.config import TrainConfig
    from kerasae.training import precision
    from kerasae.training import threads
    name, arch, shape = MODELS[model]
    resolved = precision.resolve("auto")
    pools = threads.configure(
        Config(model=ModelConfig(name=name, arch=arch),
               train=TrainConfig(batch_size=FLAGS.batch_size,
                                 thread_pools=FLAGS.thread_pools)),
        resolved, shape)
    return dict(benchlib.machine(), thread_pools=pools, isa=FLAGS.isa,
                matmul_precision=resolved)


def compare(model):
    """Measures `model` against its references; returns the result rows."""
    folder = tempfile.mkdtemp(prefix="kae-vs-")
    bundle = (series_bundle(folder) if model == "conv1d_ae"
              else benchlib.load_mnist(FLAGS.data_dir))
    work, steps = kerasae_candidate(model, bundle, STEPS[model])
    data = os.path.join(folder, f"{model}.npy")
    # Every example, windows included (they are built lazily).
    np.save(data, np.asarray(bundle.train.x[np.arange(
        len(bundle.train.x))], np.float32))
    references = {"pytorch": Reference(FLAGS.torch_python, "torch", model,
                                       data, steps)}
    if model == "dense_vae" and FLAGS.jax_python:
        references["jax"] = Reference(FLAGS.jax_python, "jax", model, data,
                                      steps)
    candidates = {"kerasae": work}
    candidates.update({k: r.train for k, r in references.items()})
    found = benchlib.measure_rounds(candidates, FLAGS.rounds)
    table = []
    for name, reference in references.items():
        reference.close()
        ratio = found["kerasae"]["median"] / found[name]["median"]
        cpu_ratio = found["kerasae"]["cpu_median"] / found[name]["cpu_median"]
        table.append({"model": model, "reference": name,
                      "reference_version": reference.info["version"],
                      "kerasae": found["kerasae"], "other": found[name],
                      "ratio": ratio, "ratio_per_cpu_second": cpu_ratio})
        print(f"{model:<10} kerasae {found['kerasae']['median']:>8.0f} "
              f"{name} {found[name]['median']:>8.0f} samples/s: "
              f"{ratio:.2f}x ({cpu_ratio:.2f}x per CPU second)", flush=True)
    return table


def each_in_its_own_process():
    """Runs this script once per model; returns their result rows."""
    rows, machine = [], None
    passed = [f"--{name}={getattr(FLAGS, name)}" for name in (
        "isa", "rounds", "batch_size", "torch_python", "jax_python",
        "data_dir", "thread_pools", "pause")]
    for model in FLAGS.models:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), f"--models={model}",
             *passed], stdout=subprocess.PIPE, text=True)
        print(done.stdout.rsplit("\n", 2)[0], flush=True)
        if done.returncode:
            raise SystemExit(f"{model}: exited with {done.returncode}")
        record = json.loads(done.stdout.strip().splitlines()[-1])
        machine = machine or record["machine"]
        rows += [dict(row, thread_pools=record["machine"]["thread_pools"])
                 for row in record["results"]]
    return machine, rows


def main(argv):
    del argv
    if FLAGS.isa == "avx2":
        os.environ.update(CAPS)
    if len(FLAGS.models) > 1:
        info, table = each_in_its_own_process()
        info["load_average_after"] = benchlib.machine()["load_average"]
        benchlib.emit({"bench": "vs_references", "machine": info,
                       "results": table})
        return
    model = FLAGS.models[0]
    info = start(model)
    table = compare(model)
    info["load_average_after"] = benchlib.machine()["load_average"]
    benchlib.emit({"bench": "vs_references", "machine": info,
                   "results": table})


if __name__ == "__main__":
    app.run(main)
