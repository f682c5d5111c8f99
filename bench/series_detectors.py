"""Detectors side by side on generated sensor logs (`series_suite.py`).

    nice -n 10 python bench/series_detectors.py \
        --out=bench/results/series_detectors.jsonl

For each case (base x sensors x seed) a clean log trains every detector
and each of eight test logs (one anomaly kind each) is scored. All
detectors use the same windows: N is what kerasae's `--window=auto`
picks on the training log. Per test log: point AUROC, VUS-PR (TSB-AD's
definition, buffers up to 2 N; `kerasae.evaluation.range_metrics`),
top-score hit (UCR: the highest score within 100 steps of the anomaly)
and the false-positive rate on the normal steps at each detector's own
threshold. Finished cases are appended to `--out` (JSON lines) and
skipped when the command is run again, so it resumes.

Detectors:

- `kerasae_recorded`, `kerasae_live`: `train.py --model=ae --arch=conv1d
  --window=auto --epochs=30 --batch_size=64`, then `kerasae.evaluate
  --test_dataset=FILE` with its defaults; both columns of `scores.csv`,
  each flagged at its own calibrated threshold.
- `keras_io`: the keras-io example "Timeseries anomaly detection using an
  Autoencoder" (Conv1D 32-16 / Conv1DTranspose, kernel 7, stride 2,
  dropout 0.2, MSE, Adam 1e-3, early stopping on a 10% split), window
  MAE, threshold the largest training-window MAE, a step's score the
  smallest MAE of the windows holding it (flagged when all are).
- `isolation_forest`: scikit-learn's IsolationForest (100 trees) on the
  standardized flattened windows; `sub_pca`: TSB-AD's Sub-PCA (pyod's
  PCA detector: every component, distances weighted by 1 / explained
  variance ratio) on the same windows. Both as TSB-AD runs them: a
  window's score goes to its centre step (ends padded), threshold the
  largest training score.
- `rolling_z`: |x_t - mean| / std over the previous N steps, the largest
  over sensors, flagged above 3.
"""

import csv
import json
import os
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "bench")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import series_suite  # noqa: E402

from kerasae import config as kae_config  # noqa: E402
from kerasae import evaluation  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.evaluation.detection_metrics import auroc  # noqa: E402
from kerasae.evaluation.range_metrics import top_score_hit  # noqa: E402
from kerasae.evaluation.range_metrics import vus  # noqa: E402

flags.DEFINE_list("seeds", ["0", "1"], "Seeds: one case per base, sensor "
                  "count and seed.")
flags.DEFINE_list("lengths", ["2000", "20000"],
                  "Test-log steps, taken in turn by the seeds.")
flags.DEFINE_list("periods", ["48", "100"],
                  "Periods of the periodic base, taken in turn by seeds.")
flags.DEFINE_list("bases", list(series_suite.BASES), "Bases.")
flags.DEFINE_list("features", ["1", "3"], "Sensor counts.")
flags.DEFINE_integer("train_steps", 4000, "Steps of each training log "
                     "(at least 40 periods).")
flags.DEFINE_integer("epochs", 30, "Epochs of both autoencoders.")
flags.DEFINE_integer("latent_dim", None, "kerasae's code size (default: "
                     "the toolkit's default).")
flags.DEFINE_list("baselines", ["keras_io", "windows", "rolling_z"],
                  "Baselines to run besides kerasae (windows: "
                  "isolation_forest and sub_pca).")
flags.DEFINE_string("out", None, "JSON-lines file of finished cases.")
FLAGS = flags.FLAGS
DETECTORS = ("kerasae_recorded", "kerasae_live", "keras_io",
             "isolation_forest", "sub_pca", "rolling_z")


def judge(scores, flagged, labels, window):
    scores = np.nan_to_num(np.asarray(scores, np.float64),
                           nan=np.nanmin(scores))
    _, vus_pr = vus(labels, scores, 2 * window)
    return {"auroc": auroc(labels, scores), "vus_pr": vus_pr,
            "top_hit": bool(top_score_hit(labels, scores)),
            "fpr": float(np.mean(flagged[labels == 0]))}


def sliding(values, n):
    return np.lib.stride_tricks.sliding_window_view(
        values, n, axis=0).transpose(0, 2, 1)


def centred(window_scores, n, steps):
    """TSB-AD's padding: window s's score at step s + (n - 1) // 2."""
    left = (n - 1) // 2
    out = np.empty(steps)
    out[:left] = window_scores[0]
    out[left:left + len(window_scores)] = window_scores
    out[left + len(window_scores):] = window_scores[-1]
    return out


def kerasae_detectors(train_path, tests, folder, seed):
    config = kae_config.Config(
        model=kae_config.ModelConfig(
            name="ae", arch="conv1d",
            **({"latent_dim": FLAGS.latent_dim} if FLAGS.latent_dim
               else {})),
        data=kae_config.DataConfig(dataset=train_path, window="auto"),
        train=kae_config.TrainConfig(epochs=FLAGS.epochs, batch_size=64,
                                     seed=seed))
    workdir = os.path.join(folder, "kerasae")
    started = time.time()
    training.train(config, workdir, overwrite=True, verbose=0)
    seconds = time.time() - started
    with open(os.path.join(workdir, "config.json")) as handle:
        window = json.load(handle)["data"]["window"]
    out = {"kerasae_recorded": {}, "kerasae_live": {}}
    for kind, (path, labels) in tests.items():
        evaluation.evaluate_run(workdir, evaluation.EvalOptions(
            test_dataset=path, plots=False, iwae_k=0, probes=False))
        with open(os.path.join(workdir, "scores.csv")) as handle:
            rows = list(csv.DictReader(handle))
        for name in ("recorded", "live"):
            scores = np.array([float(r[f"{name}_score"] or "nan")
                               for r in rows])
            flagged = np.array([r[f"{name}_flagged"] == "1" for r in rows])
            out[f"kerasae_{name}"][kind] = judge(scores, flagged, labels,
                                                 window)
    return window, seconds, out


def keras_io_detector(x_train, tests, window, seed):
    mean, std = x_train.mean(0), x_train.std(0)
    x = sliding((x_train - mean) / std, window).astype("float32")
    keras.utils.set_random_seed(seed)
    f = x.shape[2]
    model = keras.Sequential([
        keras.Input((window, f)),
        keras.layers.Conv1D(32, 7, padding="same", strides=2,
                            activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Conv1D(16, 7, padding="same", strides=2,
                            activation="relu"),
        keras.layers.Conv1DTranspose(16, 7, padding="same", strides=2,
                                     activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Conv1DTranspose(32, 7, padding="same", strides=2,
                                     activation="relu"),
        keras.layers.Conv1DTranspose(f, 7, padding="same"),
        # Two stride-2 layers give a multiple of 4 steps: back to N.
        keras.layers.Cropping1D((0, -window % 4)),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, x, epochs=FLAGS.epochs, batch_size=128,
              validation_split=0.1, verbose=0, callbacks=[
                  keras.callbacks.EarlyStopping(
                      monitor="val_loss", patience=5, mode="min")])

    def window_mae(w):
        rebuilt = model.predict(w, verbose=0, batch_size=1024)
        return np.mean(np.abs(rebuilt - w), axis=(1, 2))

    threshold = window_mae(x).max()
    results = {}
    for kind, (values, labels) in tests.items():
        mae = window_mae(sliding((values - mean) / std, window).astype(
            "float32"))
        # Step t: the smallest MAE of the windows holding it (a running
        # minimum over n windows).
        padded = np.concatenate([np.full(window - 1, np.inf), mae,
                                 np.full(window - 1, np.inf)])
        steps = sliding(padded[:, None], window)[:, :, 0].min(axis=1)
        results[kind] = judge(steps, steps > threshold, labels, window)
    return results


def window_detectors(x_train, tests, window, seed):
    from scipy.spatial.distance import cdist
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    def flat(values):
        return sliding(values, window).reshape(len(values) - window + 1, -1)

    train = flat(x_train)
    mean, std = train.mean(0), np.maximum(train.std(0), 1e-9)
    train = (train - mean) / std
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(train)
    pca = PCA(random_state=0).fit(train)
    weights = pca.explained_variance_ratio_

    def sub_pca(w):
        return np.sum(cdist(w, pca.components_) / weights, axis=1)

    limits = {"isolation_forest": -forest.score_samples(train).min(),
              "sub_pca": sub_pca(train).max()}
    results = {"isolation_forest": {}, "sub_pca": {}}
    for kind, (values, labels) in tests.items():
        w = (flat(values) - mean) / std
        for name, fn in (("isolation_forest",
                          lambda a: -forest.score_samples(a)),
                         ("sub_pca", sub_pca)):
            steps = centred(fn(w), window, len(values))
            results[name][kind] = judge(steps, steps > limits[name],
                                        labels, window)
    return results


def rolling_z(tests, window):
    results = {}
    for kind, (values, labels) in tests.items():
        total = np.cumsum(np.vstack([np.zeros((1, values.shape[1])),
                                     values]), axis=0)
        square = np.cumsum(np.vstack([np.zeros((1, values.shape[1])),
                                      values ** 2]), axis=0)
        n = window
        mean = (total[n:-1] - total[:-n - 1]) / n
        var = (square[n:-1] - square[:-n - 1]) / n - mean ** 2
        z = np.zeros(len(values))
        z[n:] = np.max(np.abs(values[n:] - mean)
                       / np.sqrt(np.maximum(var, 1e-12)), axis=1)
        results[kind] = judge(z, z > 3.0, labels, window)
    return results


def run_case(base, features, seed, length, period):
    train, tests = series_suite.make_case(
        base, features, period, max(FLAGS.train_steps, 40 * period),
        length, seed)
    with tempfile.TemporaryDirectory() as folder:
        train_path = os.path.join(folder, "train.npy")
        np.save(train_path, train)
        files = {}
        for kind, (values, labels) in tests.items():
            path = os.path.join(folder, f"{kind}.npz")
            np.savez(path, x=values.astype(np.float32), y=labels)
            files[kind] = (path, labels)
        window, seconds, results = kerasae_detectors(train_path, files,
                                                     folder, seed)
    if "keras_io" in FLAGS.baselines:
        results["keras_io"] = keras_io_detector(train, tests, window, seed)
    if "windows" in FLAGS.baselines:
        results.update(window_detectors(train, tests, window, seed))
    if "rolling_z" in FLAGS.baselines:
        results["rolling_z"] = rolling_z(tests, window)
    return {"base": base, "features": features, "seed": seed,
            "test_steps": length, "period": period if base == "periodic"
            else None, "window": window, "kerasae_train_seconds": seconds,
            "results": results}


def main(argv):
    del argv
    done = []
    if FLAGS.out and os.path.exists(FLAGS.out):
        with open(FLAGS.out) as handle:
            done = [json.loads(line) for line in handle if line.strip()]
    seen = {(c["base"], c["features"], c["seed"], c["test_steps"])
            for c in done}
    for i, seed in enumerate(int(s) for s in FLAGS.seeds):
        length = int(FLAGS.lengths[i % len(FLAGS.lengths)])
        period = int(FLAGS.periods[i % len(FLAGS.periods)])
        for base in FLAGS.bases:
            for features in (int(f) for f in FLAGS.features):
                if (base, features, seed, length) in seen:
                    continue
                case = run_case(base, features, seed, length, period)
                done.append(case)
                print(json.dumps({k: v for k, v in case.items()
                                  if k != "results"}), flush=True)
                if FLAGS.out:
                    with open(FLAGS.out, "a") as handle:
                        handle.write(json.dumps(case) + "\n")
    print(table(done))


def table(cases):
    """Markdown: mean point AUROC / VUS-PR per kind, then overall."""
    lines = []
    detectors = [d for d in DETECTORS if d in cases[0]["results"]]
    for key, title in (("auroc", "point AUROC"), ("vus_pr", "VUS-PR")):
        lines += [f"{title}, mean over {len(cases)} cases:", "",
                  "| kind | " + " | ".join(detectors) + " |",
                  "|---" * (len(detectors) + 1) + "|"]
        for kind in series_suite.KINDS + ("overall",):
            kinds = series_suite.KINDS if kind == "overall" else (kind,)
            cells = [np.mean([c["results"][d][k][key] for c in cases
                              for k in kinds]) for d in detectors]
            best = max(cells)
            lines.append(f"| {kind} | " + " | ".join(
                f"**{v:.3f}**" if v == best else f"{v:.3f}"
                for v in cells) + " |")
        lines.append("")
    count = len(cases) * len(series_suite.KINDS)
    lines += ["| | " + " | ".join(detectors) + " |",
              "|---" * (len(detectors) + 1) + "|",
              f"| top-score hits (of {count}) | " + " | ".join(
                  str(sum(c["results"][d][k]["top_hit"] for c in cases
                          for k in series_suite.KINDS))
                  for d in detectors) + " |",
              "| FPR on normal steps | " + " | ".join(
                  f"{np.mean([c['results'][d][k]['fpr'] for c in cases for k in series_suite.KINDS]):.4f}"  # noqa: E501
                  for d in detectors) + " |"]
    return "\n".join(lines)


if __name__ == "__main__":
    app.run(main)
