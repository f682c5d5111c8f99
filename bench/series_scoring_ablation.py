"""Which recorded score: the terms and the per-feature normalization.

    nice -n 10 python bench/series_scoring_ablation.py \
        --out=bench/results/series_scoring_ablation.json

On the cases of `series_detectors.py` (`series_suite.py`), one kerasae
model per case (`--model=ae --arch=conv1d --window=auto --epochs=30
--batch_size=64`) and its step errors (`kerasae.evaluation.recorded`),
scored by variants of the recorded score whose constants come from the
held-out last 10% of the training log:

- `default`: z(error at the step) + z(window's mean error) + z(code's
  Mahalanobis distance), each feature's errors divided by its normal
  mean error (`kerasae.evaluation.recorded`);
- `errors_only`: without the code term;
- `step_only`, `window_only`: one error term alone;
- `unnormalized`: the default, features not divided by their normal
  error.

Reported: point AUROC and VUS-PR per variant, mean over cases and kinds.
"""

import json
import os
import sys
import tempfile

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "bench")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import series_suite  # noqa: E402

from kerasae import config as kae_config  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.evaluation import recorded  # noqa: E402
from kerasae.evaluation.detection_metrics import auroc  # noqa: E402
from kerasae.evaluation.range_metrics import vus  # noqa: E402

flags.DEFINE_list("seeds", ["0"], "Seeds.")
flags.DEFINE_integer("test_steps", 2000, "Steps of each test log.")
flags.DEFINE_integer("epochs", 30, "Training epochs.")
flags.DEFINE_string("out", None, "Write the results as JSON here.")
FLAGS = flags.FLAGS
VARIANTS = ("default", "errors_only", "step_only", "window_only",
            "unnormalized")


def terms(errors, scale_step, scale_window):
    width = (errors.shape[1] - 1) // 2
    return ((errors[:, :width] / scale_step).mean(1),
            (errors[:, width:2 * width] / scale_window).mean(1),
            errors[:, 2 * width])


def variant_score(errors, held, name):
    """One variant's step scores; constants from the `held` errors."""
    width = (errors.shape[1] - 1) // 2
    if name == "unnormalized":
        step = window = np.ones(width)
    else:
        step = held[:, :width].mean(0)
        window = held[:, width:2 * width].mean(0)
    normal = terms(held, step, window)
    z = [(t - n.mean()) / n.std() for t, n in zip(
        terms(errors, step, window), normal)]
    return {"default": z[0] + z[1] + z[2], "errors_only": z[0] + z[1],
            "step_only": z[0], "window_only": z[1],
            "unnormalized": z[0] + z[1] + z[2]}[name]


def main(argv):
    del argv
    rows = []
    for seed in (int(s) for s in FLAGS.seeds):
        for base in series_suite.BASES:
            for features in (1, 3):
                train, tests = series_suite.make_case(
                    base, features, 48, 4000, FLAGS.test_steps, seed)
                with tempfile.TemporaryDirectory() as folder:
                    path = os.path.join(folder, "train.npy")
                    np.save(path, train)
                    config = kae_config.Config(
                        model=kae_config.ModelConfig(name="ae",
                                                     arch="conv1d"),
                        data=kae_config.DataConfig(dataset=path,
                                                   window="auto"),
                        train=kae_config.TrainConfig(
                            epochs=FLAGS.epochs, batch_size=64, seed=seed))
                    workdir = os.path.join(folder, "run")
                    training.train(config, workdir, verbose=0)
                    saved, model, pre = training.load_run(workdir)
                window = saved.data.window
                fit_part = pre.apply(train[:-len(train) // 10])
                codes = np.asarray(model.encode(
                    np.lib.stride_tricks.sliding_window_view(
                        fit_part, window, axis=0).transpose(0, 2, 1)),
                    np.float64)
                covariance = np.cov(codes, rowvar=False)
                code = {"code_mean": codes.mean(0),
                        "code_precision": np.linalg.inv(
                            covariance + 1e-6 * np.trace(covariance)
                            / len(covariance) * np.eye(len(covariance)))}
                scorer = recorded.RecordedScorer(model, window, code)
                held = scorer(pre.apply(train[-len(train) // 10:]))
                for kind, (values, labels) in tests.items():
                    errors = scorer(pre.apply(values.astype(np.float32)))
                    for name in VARIANTS:
                        score = variant_score(errors, held, name)
                        rows.append({
                            "seed": seed, "base": base,
                            "features": features, "kind": kind,
                            "variant": name,
                            "auroc": auroc(labels, score),
                            "vus_pr": vus(labels, score, 2 * window)[1]})
                print(base, features, flush=True)
    summary = {name: {key: float(np.mean([r[key] for r in rows
                                          if r["variant"] == name]))
                      for key in ("auroc", "vus_pr")}
               for name in VARIANTS}
    print(json.dumps(summary, indent=1))
    if FLAGS.out:
        with open(FLAGS.out, "w") as handle:
            json.dump({"summary": summary, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    app.run(main)
