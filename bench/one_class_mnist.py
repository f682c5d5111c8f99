"""One-class MNIST (Ruff et al. 2018, "Deep One-Class Classification").

For each digit d: train on the training images of d only
(`--train_classes=d`), score all 10,000 test images, report the AUROC of
"not d" (anomaly) against the score. Prints our table next to the paper's
DCAE and one-class Deep SVDD rows (their Table 1, mean over 10 seeds) and
writes `bench/results/<tag>.json` and `.md`.

    TFDS_DATA_DIR=../shared/tfds python bench/one_class_mnist.py \\
        --workdir=/tmp/one_class --tag=default

Training goes through `kerasae.training.train`, so every run is an ordinary
workdir (`--workdir/<setting>/digit_<d>_seed_<s>`, shared by every `--tag`
with the same training flags) and an interrupted benchmark resumes where it
stopped. With several `--seeds` the scores of the models
are standardized on normal validation data and averaged (an ensemble).
"""

import json
import os
import sys
import time

import numpy as np
from absl import app
from absl import flags
from absl import logging

# Run from a checkout: `python bench/one_class_mnist.py` puts bench/ first
# on the path, not the repository.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from kerasae import config as kc  # noqa: E402
from kerasae import data as kae_data  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.evaluation import anomaly  # noqa: E402

# Ruff et al. (2018), Table 1, MNIST, AUROC in %.
PAPER = {
    "DCAE (Ruff et al.)": [97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3,
                           86.5, 90.4],
    "one-class Deep SVDD (Ruff et al.)": [98.0, 99.7, 91.7, 91.9, 94.9, 88.5,
                                          98.3, 94.6, 93.9, 96.5],
}

flags.DEFINE_string("data_dir", None, "TFDS data directory with mnist.")
flags.DEFINE_string("workdir", "/tmp/one_class_mnist", "Runs go here.")
flags.DEFINE_string("tag", "default", "Name of this setting.")
flags.DEFINE_string("model", "ae", "Registered model name.")
flags.DEFINE_list("hidden_units", ["32", "64"], "Conv filters.")
flags.DEFINE_integer("latent_dim", 32, "Code size.")
flags.DEFINE_string("reconstruction_loss", "auto", "bce, mse or auto.")
flags.DEFINE_float("noise_level", 0.3, "dae: noise level.")
flags.DEFINE_integer("epochs", 20, "Epochs per model.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
flags.DEFINE_list("digits", [str(d) for d in range(10)], "Normal digits.")
flags.DEFINE_list("seeds", ["0"], "Seeds; several make an ensemble.")
flags.DEFINE_list("scores", ["reconstruction_and_code", "code_mahalanobis",
                             "squared_error", "bernoulli_kl",
                             "reconstruction_nll"], "Scores to report.")
FLAGS = flags.FLAGS


def run_config(digit, seed):
    f = FLAGS
    return kc.Config(
        model=kc.ModelConfig(
            name=f.model, arch="conv",
            hidden_units=tuple(int(u) for u in f.hidden_units),
            latent_dim=f.latent_dim,
            reconstruction_loss=f.reconstruction_loss,
            noise_level=f.noise_level),
        data=kc.DataConfig(dataset="mnist", data_dir=f.data_dir,
                           train_classes=(digit,)),
        train=kc.TrainConfig(epochs=f.epochs, batch_size=f.batch_size,
                             learning_rate=f.learning_rate, seed=seed))


def settings_name():
    """Folder of the runs of one training setting, shared between tags."""
    f = FLAGS
    name = (f"{f.model}-{'-'.join(f.hidden_units)}-z{f.latent_dim}-"
            f"{f.reconstruction_loss}-e{f.epochs}-b{f.batch_size}-"
            f"lr{f.learning_rate:g}")
    return name + (f"-noise{f.noise_level:g}" if f.model == "dae" else "")


def digit_scores(digit):
    """{score: standardized test scores averaged over seeds}, test labels."""
    total, labels = {}, None
    for seed in (int(s) for s in FLAGS.seeds):
        workdir = os.path.join(FLAGS.workdir, settings_name(),
                               f"digit_{digit}_seed_{seed}")
        if not os.path.exists(os.path.join(workdir, "model.keras")):
            # A finished run is reused as it is: defaults of unrelated
            # config fields may have changed since, which `train` would
            # refuse as "another config". Delete the folder to retrain.
            training.train(run_config(digit, seed), workdir, verbose=0)
        config, model, _ = training.load_run(workdir)
        bundle = kae_data.load(config.data, seed=config.train.seed)
        labels = (bundle.test.y != digit).astype(np.int64)
        for name in FLAGS.scores:
            params = anomaly.fit(model, name, bundle.train.x,
                                 bundle.validation.x)
            normal = anomaly.scores(model, bundle.validation.x, name,
                                    params=params)
            test = anomaly.scores(model, bundle.test.x, name, params=params)
            z = (test - normal.mean()) / max(normal.std(), 1e-12)
            total[name] = total.get(name, 0.0) + z
    return total, labels


def table(rows):
    """Markdown table: one row per setting, columns digits 0-9 and mean."""
    lines = ["| setting | " + " | ".join(str(d) for d in range(10))
             + " | mean |", "|---" * 12 + "|"]
    for name, values in rows.items():
        cells = [f"{v:.1f}" if v is not None else "-" for v in values]
        done = [v for v in values if v is not None]
        # Half-up, as the paper rounds (89.65 -> 89.7).
        mean = f"{np.mean(done) + 1e-9:.1f}" if done else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    started = time.time()
    results = {name: [None] * 10 for name in FLAGS.scores}
    for digit in (int(d) for d in FLAGS.digits):
        t = time.time()
        scores, labels = digit_scores(digit)
        for name, value in scores.items():
            results[name][digit] = 100.0 * anomaly.auroc(labels, value)
        shown = ", ".join(f"{n}={results[n][digit]:.1f}" for n in scores)
        print(f"digit {digit}: {shown} ({time.time() - t:.0f} s)",
              flush=True)
    seconds = time.time() - started
    rows = {f"{FLAGS.tag}: {name}": values
            for name, values in results.items()}
    rows.update(PAPER)
    text = table(rows)
    command = "python bench/one_class_mnist.py " + " ".join(sys.argv[1:])
    print(text)
    print(f"time: {seconds / 60:.1f} min; command: {command}")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{FLAGS.tag}.json"), "w") as handle:
        json.dump({"auroc": results, "seconds": round(seconds),
                   "command": command}, handle, indent=2)
    with open(os.path.join(out, f"{FLAGS.tag}.md"), "w") as handle:
        handle.write(f"{text}\n\nCommand: `{command}`\n\n"
                     f"Time: {seconds / 60:.1f} min on 2 shared CPU cores.\n")


if __name__ == "__main__":
    app.run(main)
