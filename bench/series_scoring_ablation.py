"""Which recorded score: the terms and the per-feature normalization.

    nice -n 10 python bench/series_scoring_ablation.py \
        --out=bench/results/series_scoring_ablation.json

On the cases of `series_detectors.py` (`series_suite.py`), one kerasae
model per case (`--model=ae --arch=conv1d --window=auto --epochs=30
--batch_size=64`) and its step errors (`kerasae.evaluation.recorded`),
scored by variants of the recorded score whose constants come from the
held-out last 10% of the training log:

- `both` (the default): z(error at the step) + z(window's mean error),
  each feature divided by its normal mean error;
- `step_only`, `window_only`: one term;
- `unnormalized`: both terms, features not divided by their normal error;
- `both_and_code`: `both` + z(Mahalanobis distance of the window's code
  to the training codes' Gaussian, averaged over the windows holding the
  step), the code term of the live `reconstruction_and_code` score.

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
VARIANTS = ("both", "step_only", "window_only", "unnormalized",
            "both_and_code")


def code_distance(model, series, window, code):
    """Mahalanobis distance of each window's code, overlap-averaged."""
    windows = np.lib.stride_tricks.sliding_window_view(
        series, window, axis=0).transpose(0, 2, 1)
    codes = np.concatenate([np.asarray(model.encode(windows[i:i + 4096]))
                            for i in range(0, len(windows), 4096)])
    centred = codes - code["mean"]
    distance = np.sum(centred @ code["precision"] * centred, axis=1)
    total = np.convolve(distance, np.ones(window))
    holding = np.convolve(np.ones(len(distance)), np.ones(window))
    return total / holding


def variant_score(errors, held, name, distance=None, held_distance=None):
    features = errors.shape[2]
    params = recorded.fit(held)
    if name == "unnormalized":
        scale = {"step_scale": [1.0] * features,
                 "window_scale": [1.0] * features}
        a = held[:, 0].mean(axis=1)
        b = held[:, 1].mean(axis=1)
        params.update(scale, step_mean=float(a.mean()),
                      step_std=float(a.std()), window_mean=float(b.mean()),
                      window_std=float(b.std()))
    score, _ = recorded.score(errors, params)
    if name == "both_and_code":
        mean, std = held_distance.mean(), held_distance.std()
        score = score + (distance - mean) / std
    if name in ("step_only", "window_only"):
        term = 0 if name == "step_only" else 1
        key = "step" if term == 0 else "window"
        a = (errors[:, term] / np.asarray(params[f"{key}_scale"])).mean(1)
        score = (a - params[f"{key}_mean"]) / params[f"{key}_std"]
    return score


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
                scorer = recorded.RecordedScorer(model, window)
                held_part = pre.apply(train[-len(train) // 10:])
                held = scorer(held_part)
                fit_part = pre.apply(train[:-len(train) // 10])
                codes = np.asarray(model.encode(
                    np.lib.stride_tricks.sliding_window_view(
                        fit_part, window, axis=0).transpose(0, 2, 1)))
                code = {"mean": codes.mean(0), "precision": np.linalg.inv(
                    np.cov(codes, rowvar=False)
                    + 1e-6 * np.eye(codes.shape[1]))}
                held_distance = code_distance(model, held_part, window,
                                              code)
                for kind, (values, labels) in tests.items():
                    model_space = pre.apply(values.astype(np.float32))
                    errors = scorer(model_space)
                    distance = code_distance(model, model_space, window,
                                             code)
                    for name in VARIANTS:
                        score = variant_score(errors, held, name, distance,
                                              held_distance)
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
