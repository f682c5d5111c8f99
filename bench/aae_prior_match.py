"""Do the codes of an adversarial autoencoder match its prior? MNIST bench.

Trains, through the same pipeline as `train.py`, a plain `ae` and an `aae`
with the same encoder/decoder and a 2-D N(0, I) prior, plus an `aae` with
the 10-component mixture prior; then scores the test-set codes of all three
against their prior (MMD and per-dimension Kolmogorov-Smirnov, see
`kerasae.evaluation.prior_match`), counts codes per mixture component, and
draws the pictures of `kerasae.evaluation.plots_latent`.

    TFDS_DATA_DIR=../shared/tfds python bench/aae_prior_match.py \
        --root=/tmp/aae_bench --epochs=10

Prints a Markdown table and writes `ROOT/prior_match.json`.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from kerasae import data  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.config import Config  # noqa: E402
from kerasae.config import DataConfig  # noqa: E402
from kerasae.config import ModelConfig  # noqa: E402
from kerasae.config import TrainConfig  # noqa: E402
from kerasae.evaluation import plots as kae_plots  # noqa: E402
from kerasae.evaluation import plots_latent  # noqa: E402
from kerasae.evaluation import prior_match  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=None,
                        help="TFDS data dir (default: TFDS_DATA_DIR)")
    parser.add_argument("--root", default="/tmp/aae_bench")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps_per_epoch", type=int, default=None)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--adversarial_learning_rate", type=float,
                        default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def run_config(args, name, prior="gaussian", prior_params=None):
    model = ModelConfig(
        name=name, hidden_units=(512, 256), latent_dim=2,
        discriminator_units=(512, 512), prior=prior,
        prior_params=dict(prior_params or {}))
    train = TrainConfig(
        epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate,
        discriminator_learning_rate=args.adversarial_learning_rate,
        generator_learning_rate=args.adversarial_learning_rate,
        seed=args.seed)
    return Config(model=model, data=DataConfig(
        dataset="mnist", data_dir=args.data_dir), train=train)


def main():
    args = parse_args()
    runs = {
        "ae": run_config(args, "ae"),
        "aae": run_config(args, "aae"),
        "aae_mixture": run_config(args, "aae", "mixture", {"k": 10}),
    }
    bundle = data.load(runs["ae"].data, seed=args.seed)
    test = bundle.test
    results = {}
    for key, config in runs.items():
        workdir = os.path.join(args.root, key)
        metrics = training.train(config, workdir, overwrite=True, verbose=2)
        _, model, _ = training.load_run(workdir)
        # The plain autoencoder is scored against the AAE's N(0, I) prior.
        scores = (prior_match.model_prior_match(model, test.x, "gaussian")
                  if key == "ae" else prior_match.model_metrics(
                      model, test.x, test.y))
        results[key] = {**scores,
                        "reconstruction": metrics["test"]["reconstruction"],
                        "train_seconds": metrics["train_seconds"]}
        if key != "ae":
            plots = os.path.join(args.root, "plots")
            for name, fig in (
                    ("codes", plots_latent.plot_codes(model, test.x, test.y)),
                    ("grid", plots_latent.plot_decoded_grid(model)),
                    ("samples", plots_latent.sample_grid(model, 10))):
                kae_plots.save(fig, os.path.join(plots, f"{key}_{name}.png"))
    with open(os.path.join(args.root, "prior_match.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print(f"\nMNIST test set, 2-D codes, {args.epochs} epochs\n")
    print("| model | prior | MMD^2 | KS max | KS mean | reconstruction "
          "(nats) |")
    print("|---|---|---|---|---|---|")
    for key, r in results.items():
        prior = "mixture k=10" if key == "aae_mixture" else "N(0, I)"
        print(f"| {key} | {prior} | {r['prior_mmd']:.4f} | "
              f"{r['prior_ks_max']:.3f} | {r['prior_ks_mean']:.3f} | "
              f"{r['reconstruction']:.1f} |")
    ratio = results["ae"]["prior_mmd"] / max(results["aae"]["prior_mmd"],
                                             1e-12)
    print(f"\nMMD^2 ae / aae: {ratio:.1f}x")
    print("codes per mixture component:",
          results["aae_mixture"]["prior_component_counts"])


if __name__ == "__main__":
    main()
