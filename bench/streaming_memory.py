"""Peak memory of streamed training runs at two data sizes.

    python bench/make_image_folder.py --count=10000 --out=/tmp/kae-img-10k
    python bench/make_image_folder.py --count=100000 --out=/tmp/kae-img-100k
    python bench/streaming_memory.py --runs=folder

Each run is `train.py` (or `bench/mock_tfds_train.py`) in its own process,
started by the small launcher `bench/peak_rss.py`: one epoch of a conv
autoencoder with `--data_path=stream`. The kernel's record of the child's
peak resident memory (`ru_maxrss` from `os.wait4`) is reported. Training
steps are capped (`--steps`): memory is the point, and the validation
pass and the final evaluation still read their whole splits. Run groups:

- `folder`: the 10,000- and 100,000-image folders of 64x64 RGB PNGs;
- `tfds`: `tfds.testing.mock_data` MNIST at 20,000 and 200,000 training
  examples (2,000 test examples, which validate);
- `csv`: the CSV file `--csv` (make it with `bench/make_csv.py`).
"""

import json
import os
import subprocess
import sys

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", ["folder", "tfds", "csv"], "Run groups.")
flags.DEFINE_list("folders", ["/tmp/kae-img-10k", "/tmp/kae-img-100k"],
                  "Image folders (small, large).")
flags.DEFINE_list("mock_examples", ["20000", "200000"],
                  "Mock TFDS examples per split (small, large).")
flags.DEFINE_list("csv", ["/tmp/kae-csv-small.csv", "/tmp/kae-csv-2gb.csv"],
                  "CSV files (small, large).")
flags.DEFINE_integer("steps", 100, "Training steps of the epoch.")
flags.DEFINE_string("scratch", "/tmp/kerasae-bench/streaming",
                    "Scratch folder for workdirs.")


def reaped_peak(command):
    """Runs `command` through `peak_rss.py` (output to a log in the
    scratch folder); returns (peak RSS MiB, seconds, exit code)."""
    log = os.path.join(FLAGS.scratch, "log-%d.txt" % len(os.listdir(
        FLAGS.scratch)))
    found = subprocess.run(
        [sys.executable, os.path.join(benchlib.ROOT, "bench", "peak_rss.py"),
         log] + command, cwd=benchlib.ROOT, capture_output=True, text=True,
        check=True)
    result = json.loads(found.stdout.strip().splitlines()[-1])
    return result["peak_rss_mib"], result["seconds"], result["exit_code"]


def common(workdir):
    return ["--data_path=stream", "--model=ae", "--epochs=1",
            "--batch_size=128", f"--steps_per_epoch={FLAGS.steps}",
            f"--workdir={FLAGS.scratch}/{workdir}", "--overwrite"]


def runs():
    """name -> command line."""
    python = sys.executable
    conv = ["--arch=conv", "--hidden_units=32,64", "--latent_dim=32"]
    found = {}
    if "folder" in FLAGS.runs:
        for folder in FLAGS.folders:
            name = os.path.basename(folder)
            found[f"folder {name}"] = [
                python, "train.py", f"--dataset={folder}"] + conv + \
                common(name)
    if "tfds" in FLAGS.runs:
        for n in FLAGS.mock_examples:
            found[f"mock mnist {n}"] = [
                python, "bench/mock_tfds_train.py", f"--mock_examples={n}",
                "--dataset=mnist", "--validation_fraction=0"] + conv + \
                common(f"mock-{n}")
    if "csv" in FLAGS.runs:
        for path in FLAGS.csv:
            name = os.path.basename(path)
            found[f"csv {name}"] = [
                python, "train.py", f"--dataset={path}",
                "--hidden_units=64", "--latent_dim=8"] + common(name)
    return found


def main(argv):
    del argv
    os.makedirs(FLAGS.scratch, exist_ok=True)
    benchlib.peak_table("streaming_memory", runs(), reaped_peak,
                        steps=FLAGS.steps)


if __name__ == "__main__":
    app.run(main)
