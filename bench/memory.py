"""Peak memory (resident set) of training runs, each in its own process.

    python bench/memory.py
    python bench/memory.py --epochs=10 --batch_sizes=128,1024

Runs, one process each, and reports the peak resident memory the kernel
recorded for it (`ru_maxrss` from `os.wait4`):

- `import only`: Python importing TensorFlow, Keras and kerasae, nothing
  else: the floor every run pays;
- `train.py` as a user types it (the MNIST VAE, 10% held out) at each
  batch size, for `--epochs` epochs, into a scratch workdir;
- the PyTorch reference (`bench/pytorch_vae.py`) for the same epochs, when
  `--torch_python` exists.

MNIST's 70,000 images are 220 MB as float32; the rest is the framework.
"""

import os
import sys
import time

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 2, "Epochs of each training run.")
flags.DEFINE_list("batch_sizes", ["128", "1024"], "train.py batch sizes.")
flags.DEFINE_string("scratch", "/tmp/kerasae-bench/memory",
                    "Scratch folder for workdirs.")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_string("torch_python", "/work/torchvenv/bin/python",
                    "Python with torch, for the reference (skipped if "
                    "missing).")
flags.DEFINE_string("mnist", "/tmp/mnist.npz", "MNIST .npz for torch.")


def reaped_peak(command):
    """Runs `command` (output discarded); (peak RSS MiB, seconds, code).

    `fork` + `wait4` give the child's own peak resident memory.
    """
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.chdir(benchlib.ROOT)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    return (round(usage.ru_maxrss / 1024, 1),
            round(time.perf_counter() - started, 1),
            os.waitstatus_to_exitcode(status))


def runs():
    """name -> command line."""
    python = sys.executable
    found = {"import only": [python, "-c",
                             "import tensorflow, keras, kerasae.training"]}
    for batch in FLAGS.batch_sizes:
        found[f"train.py batch {batch}"] = [
            python, "train.py", f"--epochs={FLAGS.epochs}",
            f"--batch_size={batch}",
            f"--workdir={FLAGS.scratch}/vae-{batch}", "--overwrite"] + (
                [f"--data_dir={FLAGS.data_dir}"] if FLAGS.data_dir else [])
    if os.path.exists(FLAGS.torch_python) and os.path.exists(FLAGS.mnist):
        found["pytorch reference batch 128"] = [
            FLAGS.torch_python, "bench/pytorch_vae.py",
            f"--mnist={FLAGS.mnist}", f"--epochs={FLAGS.epochs}"]
    return found


def main(argv):
    del argv
    os.makedirs(FLAGS.scratch, exist_ok=True)
    benchlib.peak_table("memory", runs(), reaped_peak, epochs=FLAGS.epochs)


if __name__ == "__main__":
    app.run(main)
