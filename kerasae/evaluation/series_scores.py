"""Anomaly scores per time step of a series, and the threshold behind them.

One definition serves everything: **the score of step t is the score of
the window that ends at step t** (steps `t - N + 1 .. t`), computed by
`kerasae.evaluation.anomaly.score_batch` as for any other example. So a
device scoring a live stream sends the last `N` readings each time one
arrives and gets that step's score from the exported `score` signature
(which takes raw windows `[batch, N, features]`); `scores.csv`,
`threshold.json` and `is_anomaly` all mean the same number. The first
`N - 1` steps of a file have no complete window and no score.

A consequence worth knowing: an anomaly at step s raises the scores of
steps s to s + N - 1 (every window holding it), so alarms can outlast a
short anomaly by up to a window.

The threshold: with `--threshold_method=quantile`, `mean_std` or `max` it
is calibrated on the held-out normal stretch at the end of the training
series alone (the validation windows, stride 1). The default, `auto`, is
the largest score of every normal window the run has (held-out stretch
and training stretch): no window known to be normal is flagged. Scores of
overlapping windows are strongly correlated, so a 10% held-out stretch
holds only a handful of independent periods and its 0.99 quantile, or
even its maximum, sits well below the normal scores of a longer test file:
on `bench/series_anomaly.py` the held-out 0.99 quantile flagged 4 to 5%
of an anomaly-free test file, its maximum 2 to 4%, `auto` 0 to 0.1%
(bench/RESULTS.md). `evaluate_series` reports the false-positive rate on
normal steps of a labelled test file, which calibration never saw, and
compares the rules: held-out 0.99 quantile and maximum, the keras-io
example's (max training-window score) and the TensorFlow tutorial's
(mean + 1 std of the training-window scores).
"""

import csv
import os

import numpy as np

from kerasae import workdir as wd
from kerasae.data.series import SERIES
from kerasae.data.series import Windows
from kerasae.data.series import all_normal
from kerasae.data.series import window_starts
from kerasae.evaluation import anomaly
from kerasae.evaluation.detection_metrics import auprc
from kerasae.evaluation.detection_metrics import auroc

SCORES_CSV = "scores.csv"
AUTO = ("max over the normal windows of the held-out stretch and of the "
        "training stretch")
STEP_SCORE = ("score of the window of the last N steps ending at the step "
              "(N = --window); the first N - 1 steps have none")


def is_series(bundle):
    """True when `bundle` holds series windows (`--window`)."""
    return bundle.kind == SERIES


def every_window(windows):
    """The stride-1 windows of the whole file `windows` come from."""
    return Windows(windows.series, window_starts(
        0, len(windows.series), windows.window), windows.window,
        windows.source)


def step_scores(window_scores, windows, steps):
    """Spreads window scores onto steps: step `end` gets its window's.

    Args:
        window_scores: `(n,)` scores of `windows`.
        windows: `Windows` whose `ends` are distinct steps.
        steps: number of steps of the file.

    Returns:
        float64 `(steps,)`, NaN where no window ends.
    """
    out = np.full(steps, np.nan)
    out[windows.ends] = window_scores
    return out


def rule_report(threshold, scores, labels, clean=None):
    """Flagged fraction, and FPR / recall on labelled steps, at a threshold.

    Args:
        threshold: scores above it are flagged.
        scores: step scores (steps with a score only).
        labels: 0/1 per step, or None.
        clean: bool per step: its whole window is normal (the FPR on
            these steps, `fpr_normal_windows`, leaves out the normal steps
            right after an anomaly, whose windows still hold it).
    """
    flagged = scores > threshold
    result = {"threshold": float(threshold),
              "flagged_fraction": float(flagged.mean())}
    if labels is not None:
        normal = labels == 0
        if normal.any():
            result["fpr_normal_steps"] = float(flagged[normal].mean())
        if clean is not None and clean.any():
            result["fpr_normal_windows"] = float(flagged[clean].mean())
        if (~normal).any():
            result["recall_anomalous_steps"] = float(flagged[~normal].mean())
    return result


def evaluate_series(model, bundle, options, workdir):
    """Scores every step of the test file (else the training file).

    Writes `RUN/threshold.json` and `RUN/scores.csv`.

    Args:
        model: a trained model with an encoder.
        bundle: a series `DataBundle`.
        options: `kerasae.evaluation.EvalOptions`.
        workdir: the run's folder.

    Returns:
        `(report, step_scores, flagged, windows_scored)`; the report holds
        the threshold, the point-wise AUROC / AUPRC when the scored file has
        labels, and the comparison of thresholding rules.
    """
    score = anomaly.resolve_score(model, options.score)
    batch = options.batch_size
    train, validation = bundle.train.x, bundle.validation.x
    params = anomaly.fit(model, score, train, validation, batch)
    normal = anomaly.scores(model, validation, score, None, batch, params)
    train_scores = anomaly.scores(model, train, score, None, batch, params)
    method = options.threshold_method
    calibration = normal
    if method == "auto":
        method, calibration = "max", np.concatenate([normal, train_scores])
    threshold = anomaly.calibrate(calibration, method, options.quantile,
                                  options.std_multiplier)
    detail = {"quantile": {"quantile": options.quantile},
              "mean_std": {"std_multiplier": options.std_multiplier}}.get(
                  method, {})
    anomaly.write_threshold(
        workdir, score, threshold, method,
        calibrated_on=AUTO if options.threshold_method == "auto" else
        "held-out normal stretch",
        step_score=STEP_SCORE, window=int(train.window),
        calibration_examples=int(len(calibration)),
        calibration_mean=float(normal.mean()),
        calibration_std=float(normal.std()), **detail,
        **({"params": params} if params else {}))
    scored_test = bundle.test is not None
    windows = bundle.test.x if scored_test else every_window(train)
    source = windows.source
    per_window = anomaly.scores(model, windows, score, None, batch, params)
    steps = step_scores(per_window, windows, len(source))
    has = ~np.isnan(steps)
    flagged = np.where(has, steps > threshold, False)
    write_scores_csv(wd.path(workdir, SCORES_CSV), source, steps, flagged)
    labels = None if source.labels is None else \
        (source.labels[has] != 0).astype(np.int64)
    clean = None if labels is None else all_normal(
        windows.starts, windows.window, source.anomalous)
    rules = {
        "calibrated": rule_report(threshold, steps[has], labels, clean),
        "max_train_error": rule_report(train_scores.max(), steps[has],
                                       labels, clean),
        "held_out_max": rule_report(normal.max(), steps[has], labels,
                                    clean),
        "held_out_q99": rule_report(np.quantile(normal, 0.99), steps[has],
                                    labels, clean),
        "mean_plus_std": rule_report(
            train_scores.mean() + train_scores.std(), steps[has], labels,
            clean),
    }
    result = {
        "score": score, "method": method,
        "calibrated_on": AUTO if options.threshold_method == "auto" else
        "held-out normal stretch",
        "step_score": STEP_SCORE, "threshold": float(threshold),
        "scored_file": source.name,
        "scored_split": "test" if scored_test else "train_file",
        "steps": int(len(source)), "scored_steps": int(has.sum()),
        "flagged_fraction": float(flagged[has].mean()),
        "calibration_windows": int(len(calibration)),
        "rules": rules,
    }
    if labels is not None and 0 < labels.sum() < len(labels):
        result.update(auroc=auroc(labels, steps[has]),
                      auprc=auprc(labels, steps[has]),
                      anomaly_fraction=float(labels.mean()))
        if scored_test:
            # Normal steps calibration never saw: the test file's.
            for key in ("fpr_normal_steps", "fpr_normal_windows"):
                if key in rules["calibrated"]:
                    result[key] = rules["calibrated"][key]
    return result, steps, flagged, windows


def _cell(value):
    return str(int(value)) if float(value).is_integer() else repr(value)


def write_scores_csv(path, source, steps, flagged):
    """One row per time step: time, `score`, `flagged`, label column.

    The time cells and labels are written as the file had them; a step
    without a complete window has an empty score.
    """
    header = ([source.time_name] if source.times is not None else []) + \
        ["score", "flagged"] + \
        ([source.label_name] if source.labels is not None else [])
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(len(source)):
            row = [] if source.times is None else [source.times[i]]
            row += ["" if np.isnan(steps[i]) else f"{steps[i]:.6g}",
                    int(flagged[i])]
            if source.labels is not None:
                row.append(_cell(source.labels[i]))
            writer.writerow(row)
    os.replace(temporary, path)
    return path


def run(model, bundle, options, workdir):
    """`evaluate_series`, its picture, and the sections for `metrics.json`.

    Returns:
        `{"evaluation": ..., "anomaly": ..., "plots": [...]}` (no `plots`
        without `options.plots`).
    """
    if not model.has_encoder:  # a GAN generator scores nothing
        return {"evaluation": {
            "split": bundle.eval_split_name,
            "num_windows": int(len(bundle.eval_split)),
            "window": int(bundle.input_shape[0]),
            "note": f"{model.config.name} has no encoder: no step scores"}}
    report, steps, flagged, windows = evaluate_series(
        model, bundle, options, workdir)
    new = {"evaluation": {"split": report["scored_split"],
                          "num_windows": int(len(windows)),
                          "window": int(windows.window)},
           "anomaly": report}
    if options.plots:
        from kerasae.evaluation import plots_series  # matplotlib: drawing

        folder = wd.path(workdir, "plots")
        os.makedirs(folder, exist_ok=True)
        plots_series.series_scores(
            os.path.join(folder, "series_scores.png"), windows.source,
            steps, report["threshold"], flagged)
        new["plots"] = ["series_scores.png"]
    return new

