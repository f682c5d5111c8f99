"""Side by side on generated sensor logs: kerasae vs keras-io vs z-score.

    python bench/series_anomaly.py --out=bench/results/series_anomaly.json

A clean two-sensor log (a daily pattern of 48 steps plus noise,
`tests/series_data.py`) trains each detector; each then scores test files
with one injected anomaly (a jump, a flat stretch inside the normal range,
a spike) and a test file with none. Reported per detector and file:
point-wise AUROC (labels per step), and the false-positive rate on normal
data (the share of the anomaly-free file's steps that are flagged, which
no detector saw in training or calibration).

Detectors:

- `kerasae`: the README's sensor-log command, `train.py --window=48
  --model=ae --arch=conv1d --hidden_units=32,16 --latent_dim=16`, then
  `python -m kerasae.evaluate --test_dataset=FILE` with its defaults, its
  live scoring (score `reconstruction_and_code` of the window ending at
  each step,
  threshold `auto`: the largest score of the normal windows, held out
  and trained on); the other thresholding rules are reported on the same
  scores.
- `keras_io`: the keras-io example "Timeseries anomaly detection using an
  Autoencoder" (Conv1D 32-16 / Conv1DTranspose, kernel 7, stride 2,
  dropout 0.2, MSE loss, Adam 1e-3, early stopping on a random 10%
  validation split), window MAE as the score, threshold = the largest
  training-window MAE, and a step flagged when every window holding it is
  (the step's score is the smallest MAE of those windows).
- `zscore`: a rolling z-score, |x_t - mean| / std over the previous 48
  steps, the largest over sensors, flagged above 3.

Absolute run times are not reported: other jobs share the CPU.
"""

import json
import os
import sys
import tempfile

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import series_data  # noqa: E402

from kerasae import config as kae_config  # noqa: E402
from kerasae import evaluation  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.evaluation.detection_metrics import auroc  # noqa: E402

flags.DEFINE_integer("train_steps", 4000, "Steps of the clean training log.")
flags.DEFINE_integer("test_steps", 2000, "Steps of each test file.")
flags.DEFINE_integer("window", 48, "Window length (one period).")
flags.DEFINE_integer("epochs", 30, "Training epochs of both autoencoders.")
flags.DEFINE_list("seeds", ["0", "1"], "Seeds: one training log each.")
flags.DEFINE_string("out", None, "Write the results as JSON here.")
FLAGS = flags.FLAGS
FILES = series_data.KINDS + ("none",)


def kerasae_detector(train_csv, tests, folder, seed):
    config = kae_config.Config(
        model=kae_config.ModelConfig(name="ae", arch="conv1d",
                                     hidden_units=(32, 16), latent_dim=16),
        data=kae_config.DataConfig(dataset=train_csv, window=FLAGS.window,
                                   label_column="anomaly",
                                   time_column="timestamp"),
        train=kae_config.TrainConfig(epochs=FLAGS.epochs, batch_size=64,
                                     seed=seed))
    workdir = os.path.join(folder, "kerasae")
    training.train(config, workdir, overwrite=True, verbose=0)
    results = {}
    for kind, path in tests.items():
        metrics = evaluation.evaluate_run(workdir, evaluation.EvalOptions(
            test_dataset=path, plots=kind == "flat", iwae_k=0))
        # The live scoring: the window ending at each step.
        report = metrics["anomaly"]["live"]
        results[kind] = {"auroc": report.get("auroc"),
                         "flagged_fraction": report["flagged_fraction"],
                         "rules": report["rules"]}
    return results


def windows(values, n):
    return np.stack([values[i:i + n] for i in range(len(values) - n + 1)])


def keras_io_detector(train_values, tests, seed):
    n = FLAGS.window
    mean, std = train_values.mean(0), train_values.std(0)
    x = windows((train_values - mean) / std, n).astype("float32")
    keras.utils.set_random_seed(seed)
    f = x.shape[2]
    model = keras.Sequential([
        keras.Input((n, f)),
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
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, x, epochs=FLAGS.epochs, batch_size=128,
              validation_split=0.1, verbose=0, callbacks=[
                  keras.callbacks.EarlyStopping(
                      monitor="val_loss", patience=5, mode="min")])

    def window_mae(w):
        return np.mean(np.abs(model.predict(w, verbose=0) - w), axis=(1, 2))

    threshold = window_mae(x).max()
    results = {}
    for kind, (values, labels) in tests.items():
        mae = window_mae(windows((values - mean) / std, n).astype("float32"))
        # Step t is held by windows t - n + 1 .. t; keras-io flags it when
        # all of them are anomalous, i.e. when the smallest MAE is.
        steps = np.array([mae[max(0, t - n + 1):min(t, len(mae) - 1) + 1]
                          .min() for t in range(len(values))])
        results[kind] = _report(steps, steps > threshold, labels)
    return results


def zscore_detector(tests):
    n = FLAGS.window
    results = {}
    for kind, (values, labels) in tests.items():
        z = np.zeros(len(values))
        for t in range(n, len(values)):
            past = values[t - n:t]
            z[t] = np.max(np.abs(values[t] - past.mean(0))
                          / np.maximum(past.std(0), 1e-9))
        results[kind] = _report(z[n:], z[n:] > 3.0, labels[n:])
    return results


def _report(scores, flagged, labels):
    out = {"flagged_fraction": float(flagged.mean())}
    if labels.any():
        out["auroc"] = auroc(labels, scores)
    return out


def main(argv):
    del argv
    runs = []
    for seed in (int(s) for s in FLAGS.seeds):
        with tempfile.TemporaryDirectory() as folder:
            train_values, _ = series_data.make_series(FLAGS.train_steps,
                                                      seed=100 + seed)
            train_csv = series_data.write_csv(
                os.path.join(folder, "train.csv"), train_values)
            data, paths = {}, {}
            for i, kind in enumerate(FILES):
                values, labels = series_data.make_series(
                    FLAGS.test_steps, seed=200 + 10 * seed + i,
                    anomaly=None if kind == "none" else kind, phase=7 * i)
                data[kind] = (values, labels)
                paths[kind] = series_data.write_csv(
                    os.path.join(folder, f"{kind}.csv"), values, labels)
            runs.append({
                "seed": seed,
                "kerasae": kerasae_detector(train_csv, paths, folder, seed),
                "keras_io": keras_io_detector(train_values, data, seed),
                "zscore": zscore_detector(data),
            })
            print(json.dumps(runs[-1], indent=1), flush=True)
    if FLAGS.out:
        with open(FLAGS.out, "w") as handle:
            json.dump({"flags": {k: FLAGS[k].value for k in (
                "train_steps", "test_steps", "window", "epochs", "seeds")},
                "runs": runs}, handle, indent=1)
    print(table(runs))


def table(runs):
    """Markdown tables: means over seeds per detector and file."""
    lines = ["| detector | " + " | ".join(
        f"AUROC {k}" for k in series_data.KINDS)
        + " | FPR on the anomaly-free file |", "|---" * 5 + "|"]
    for name in ("kerasae", "keras_io", "zscore"):
        cells = [f"{_mean(runs, name, kind, 'auroc'):.3f}"
                 for kind in series_data.KINDS]
        fpr = _mean(runs, name, "none", "flagged_fraction")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fpr:.4f} |")
    lines += ["", "kerasae's score under each thresholding rule (FPR: "
              "anomaly-free file; recall: anomalous steps, mean of the "
              "three files):", "",
              "| rule | threshold | FPR | recall |", "|---|---|---|---|"]
    for rule in runs[0]["kerasae"]["none"]["rules"]:
        def value(kind, key):
            return np.mean([r["kerasae"][kind]["rules"][rule][key]
                            for r in runs])
        recall = np.mean([value(k, "recall_anomalous_steps")
                          for k in series_data.KINDS])
        lines.append(f"| {rule} | {value('none', 'threshold'):.2f} | "
                     f"{value('none', 'flagged_fraction'):.4f} | "
                     f"{recall:.3f} |")
    return "\n".join(lines)


def _mean(runs, name, kind, key):
    return float(np.mean([r[name][kind][key] for r in runs]))


if __name__ == "__main__":
    app.run(main)
