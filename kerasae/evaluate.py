"""Evaluates a training workdir: metrics, anomaly threshold and pictures.

    python -m kerasae.evaluate --workdir=runs/vae
    python -m kerasae.evaluate --workdir=runs/one_class_0 --normal_classes=0
    python -m kerasae.evaluate --workdir=runs/sensors --test_dataset=week2.csv

Adds its results to `RUN/metrics.json` (the keys already there are kept),
writes `RUN/threshold.json` and PNG files under `RUN/plots/`. Thin on
purpose: the logic is `kerasae.evaluation.evaluate_run`.
"""

import json
import sys

from absl import app
from absl import flags
from absl import logging

from kerasae import evaluation
from kerasae.errors import KerasaeError

_O = evaluation.EvalOptions
FLAGS = flags.FLAGS

flags.DEFINE_string("workdir", None, "A training workdir (holds model.keras).")
# Plain strings, checked by `evaluation.validate`, so a bad value gets the
# same one-line `error:` and exit status 2 as every other mistake.
flags.DEFINE_string("score", _O.score, "Anomaly score: auto "
                    "(= reconstruction_and_code), reconstruction_nll, "
                    "neg_elbo_at_mean, squared_error, bernoulli_kl, "
                    "code_mahalanobis, reconstruction_and_code.")
flags.DEFINE_string("threshold_method", _O.threshold_method,
                    "auto (quantile; series: the largest normal window "
                    "score), quantile, mean_std or max.")
flags.DEFINE_float("quantile", _O.quantile,
                   "Quantile of normal validation scores (quantile method).")
flags.DEFINE_float("std_multiplier", _O.std_multiplier,
                   "k in mean + k * std (mean_std method).")
flags.DEFINE_list("normal_classes", [], "Labels that are normal, e.g. 0; "
                  "others count as anomalies (default: --train_classes).")
flags.DEFINE_integer("iwae_k", _O.iwae_k, "VAE: importance samples of the "
                     "IWAE bound (5000: Burda et al.'s protocol; 0: skip).")
flags.DEFINE_integer("iwae_examples", _O.iwae_examples,
                     "VAE: test examples for the IWAE bound (0: all).")
flags.DEFINE_boolean("plots", _O.plots, "Write PNG files to RUN/plots/.")
flags.DEFINE_integer("batch_size", _O.batch_size, "Examples per pass.")
# issue 14 flags
flags.DEFINE_string("test_dataset", None, "A file to score, read like the "
                    "training file (same columns and preprocessing); a "
                    "series gets RUN/scores.csv, one row per time step.")
flags.mark_flag_as_required("workdir")


def options_from_flags():
    """Builds the `EvalOptions` the flags describe."""
    f = FLAGS
    try:
        normal = tuple(int(c) for c in f.normal_classes)
    except ValueError as error:
        raise KerasaeError(
            f"--normal_classes={','.join(f.normal_classes)}: give "
            "comma-separated whole numbers, e.g. 0,6") from error
    return _O(score=f.score, threshold_method=f.threshold_method,
              quantile=f.quantile, std_multiplier=f.std_multiplier,
              normal_classes=normal, iwae_k=f.iwae_k,
              iwae_examples=f.iwae_examples, plots=f.plots,
              batch_size=f.batch_size, test_dataset=f.test_dataset)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    try:
        metrics = evaluation.evaluate_run(FLAGS.workdir, options_from_flags())
    except KerasaeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    shown = {k: metrics[k] for k in ("evaluation", "anomaly") if k in metrics}
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"metrics: {FLAGS.workdir}/metrics.json; plots: "
          f"{FLAGS.workdir}/plots/")


if __name__ == "__main__":
    app.run(main)
