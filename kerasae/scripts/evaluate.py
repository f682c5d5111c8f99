"""Evaluates a training workdir: metrics, anomaly threshold and pictures.

    kerasae-evaluate --workdir=runs/vae
    kerasae-evaluate --workdir=runs/one_class_0 --normal_classes=0

(also `python -m kerasae.evaluate`). Adds its results to
`RUN/metrics.json` (the keys already there are kept), writes
`RUN/threshold.json`, PNG files under `RUN/plots/` and `RUN/report.html`,
one self-contained page of the run (the pictures also go to the
TensorBoard logs, `RUN/logs/evaluation/`). The flags are
generated from `kerasae.evaluation.EvalOptions`; the logic is
`kerasae.evaluation.evaluate_run`.
"""

import json

from absl import flags

from kerasae import cli
from kerasae import evaluation

FLAGS = flags.FLAGS

flags.DEFINE_string("workdir", None, "A training workdir (holds model.keras).")
cli.define_flags([evaluation.EvalOptions])
flags.mark_flag_as_required("workdir")


def options_from_flags():
    """Builds the `EvalOptions` the flags describe."""
    return cli.dataclass_from_flags(evaluation.EvalOptions)


def evaluate():
    """Evaluates the run in `--workdir` and prints the headline figures."""
    metrics = evaluation.evaluate_run(FLAGS.workdir, options_from_flags())
    shown = {k: metrics[k] for k in ("evaluation", "anomaly") if k in metrics}
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"metrics: {FLAGS.workdir}/metrics.json; plots: "
          f"{FLAGS.workdir}/plots/")
    print(f"report:  {FLAGS.workdir}/report.html (open it in a browser)")


main = cli.run_main(evaluate)


def run():
    """The `kerasae-evaluate` console script."""
    cli.run(main, __doc__)


if __name__ == "__main__":
    run()
