"""Codes as features, and the VQ-VAE next to the plain autoencoder, on MNIST.

    python bench/feature_learning.py --epochs=5

Trains each model with train.py's defaults (784-400-20, grey-level MNIST)
for `--epochs`, then runs the evaluation (`kerasae.evaluation.evaluate_run`,
what `python -m kerasae.evaluate` does) with the feature probes: logistic
regression fitted on `--probe_examples` training codes and 5-NN, test
accuracy on all 10,000 test digits, beside the same probes on raw pixels
and on PCA with the code's size. The VQ-VAE adds its reconstruction MSE and
codebook perplexity, to set beside the plain autoencoder's MSE. Runs live
in `--workdir_root/<model>` (a finished run is only evaluated); the table
goes to `bench/results/feature_learning.json` (rows of other models from an
earlier run with the same `--epochs` are kept) and is printed as
markdown.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from bench import benchlib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["ae", "dae", "sparse_ae", "vae", "aae",
                             "vqvae"], "Models to train and probe.")
flags.DEFINE_integer("epochs", 5, "Training epochs of each model.")
flags.DEFINE_integer("probe_examples", 10000, "Training codes the probes "
                     "are fitted on.")
flags.DEFINE_string("workdir_root", "runs/feature_learning", "Run folders.")


def main(argv):
    del argv
    machine = benchlib.start(0, "inter_op")
    from kerasae import evaluation
    from kerasae import training
    from kerasae.config import Config
    from kerasae.config import ModelConfig
    from kerasae.config import TrainConfig

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "results", "feature_learning.json")
    # Rows of other models measured earlier are kept.
    rows = {}
    if os.path.exists(out):
        with open(out) as f:
            earlier = json.load(f)
        if earlier.get("epochs") == FLAGS.epochs:
            rows = earlier.get("rows", {})
    for name in FLAGS.models:
        config = Config(model=ModelConfig(name=name),
                        train=TrainConfig(epochs=FLAGS.epochs,
                                          thread_pools="inter_op"))
        workdir = os.path.join(FLAGS.workdir_root, name)
        started = time.time()
        training.train(config, workdir, verbose=2)
        metrics = evaluation.evaluate_run(workdir, evaluation.EvalOptions(
            plots=False, iwae_k=0, probe_examples=FLAGS.probe_examples))
        ev = metrics["evaluation"]
        rows[name] = {
            "mse": ev.get("mse"), "pca_mse": ev.get("pca_mse"),
            "features": ev.get("features"),
            "codebook_perplexity": ev.get("codebook_perplexity"),
            "codebook_entries_used": ev.get("codebook_entries_used"),
            "seconds": round(time.time() - started, 1),
        }
        print(name, json.dumps(rows[name]), flush=True)
    with open(out, "w") as f:
        json.dump({"epochs": FLAGS.epochs, "rows": rows, "machine": machine},
                  f, indent=2, sort_keys=True)
    print("| model | test MSE | linear probe | 5-NN | code size |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        feats = row["features"]
        print(f"| {name} | {row['mse']:.4f} | {feats['codes']['linear']:.4f}"
              f" | {feats['codes']['knn5']:.4f} | {feats['code_size']} |")
    feats = next(iter(rows.values()))["features"]
    for kind in ("raw", "pca"):
        print(f"| {kind} | | {feats[kind]['linear']:.4f} | "
              f"{feats[kind]['knn5']:.4f} | |")


if __name__ == "__main__":
    app.run(main)
