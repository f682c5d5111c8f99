"""Anomaly scores per time step of a series, and the thresholds behind them.

Two scorings, each with its own threshold; `scores.csv` has both and
`--series_scoring` (default `auto`: recorded) picks the one the headline
figures, `flagged` and the picture use:

- **recorded** (`kerasae.evaluation.recorded`): step t is scored from
  every window that holds it, from the reconstruction error at t, per
  feature; what a server scoring a whole log computes (the exported
  `score_series` signature). On `bench/series_detectors.py` it has the
  better mean point AUROC and VUS-PR (bench/RESULTS.md).
- **live**, described below: what a device scoring a stream computes.

For live scoring one definition serves everything: **the score of step t
is the score of the window that ends at step t** (steps `t - N + 1 ..
t`), computed by `kerasae.evaluation.anomaly.score_batch` as for any
other example. So a
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

import os

import numpy as np

from kerasae import workdir as wd
from kerasae.data.series import SERIES
from kerasae.data.series import Windows
from kerasae.data.series import all_normal
from kerasae.data.series import window_starts
from kerasae.evaluation import anomaly
from kerasae.evaluation import recorded
from kerasae.evaluation import series_report
from kerasae.evaluation.series_report import HEADLINE
from kerasae.evaluation.series_report import ranking
from kerasae.evaluation.series_report import write_scores_csv

SCORES_CSV = "scores.csv"
AUTO = ("max over the normal windows of the held-out stretch and of the "
        "training stretch")
STEP_SCORE = ("score of the window of the last N steps ending at the step "
              "(N = --window); the first N - 1 steps have none")
RECORDED_STEP_SCORE = (
    "z(squared error at the step) + z(mean squared error of the window) "
    "+ z(Mahalanobis distance of the window's code), each averaged over "
    "every window holding the step (errors over features, each divided "
    "by its mean on the held-out normal stretch)")
SCORINGS = ("auto", "live", "recorded")


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


def _threshold(scores_, held_out, options):
    """`(threshold, method, calibration)`: `auto` takes the largest score
    of every normal step or window (`held_out` and `scores_`), the other
    methods the held-out ones alone."""
    method = options.threshold_method
    calibration = held_out
    if method == "auto":
        method, calibration = "max", np.concatenate([held_out, scores_])
    return anomaly.calibrate(calibration, method, options.quantile,
                             options.std_multiplier), method, calibration


def _covered(windows, steps):
    """bool `(steps,)`: the steps some window of `windows` holds."""
    edges = np.zeros(steps + 1, np.int64)
    np.add.at(edges, windows.starts, 1)
    np.add.at(edges, windows.starts + windows.window, -1)
    return np.cumsum(edges)[:-1] > 0


def _normal_steps(windows):
    """The steps `windows` hold that are not labelled anomalous."""
    mask = _covered(windows, len(windows.series))
    anomalous = windows.source.anomalous if windows.source else None
    return mask if anomalous is None else mask & ~anomalous


def fit_recorded(model, bundle, options, live_params=None):
    """The recorded scoring's feature scales and threshold.

    The score's constants (`recorded.fit`) come from the held-out normal
    stretch; the threshold (`auto`) is the largest recorded score
    of any normal step the run has, held out or trained on.

    Returns:
        `(scorer, record, errors_of_the_training_file)`; `record` is the
        `recorded` section of `threshold.json`.
    """
    train, validation = bundle.train.x, bundle.validation.x
    code = None
    if recorded.has_code_term(model):
        # The live score's code Gaussian when it has one (the same fit).
        code = live_params if live_params and "code_mean" in live_params \
            else anomaly.fit(model, "code_mahalanobis", train, validation,
                             options.batch_size)
        code = {k: code[k] for k in ("code_mean", "code_precision")}
    # Raw values in, standardized inside: the exported graph's arithmetic.
    scorer = recorded.RecordedScorer(model, train.window, code,
                                     bundle.preprocessing)
    train_errors = scorer(train.source.values)
    held_errors = train_errors if validation.source is train.source \
        else scorer(validation.source.values)
    held_steps = _normal_steps(validation)
    params = recorded.fit(held_errors[held_steps], code)
    held_scores, _ = recorded.score(held_errors[held_steps], params)
    train_steps = _normal_steps(train)
    train_scores, _ = recorded.score(train_errors[train_steps], params)
    threshold, method, calibration = _threshold(train_scores, held_scores,
                                                options)
    record = {"threshold": threshold, "method": method,
              "step_score": RECORDED_STEP_SCORE,
              "params": params, "window": int(train.window),
              "calibration_steps": int(len(calibration))}
    return scorer, record, train_errors


def evaluate_series(model, bundle, options, workdir):
    """Scores every step of the test file (else the training file), both
    ways.

    Writes `RUN/threshold.json` (the live threshold at the top, as the
    exported `score` signature reads it, and a `recorded` section) and
    `RUN/scores.csv`.

    Args:
        model: a trained model with an encoder.
        bundle: a series `DataBundle`.
        options: `kerasae.evaluation.EvalOptions`.
        workdir: the run's folder.

    Returns:
        `(report, steps, flagged, share, windows)` for the chosen
        scoring; the report holds the headline figures of the chosen
        scoring, and a `live` and a `recorded` section each.
    """
    score = anomaly.resolve_score(model, options.score)
    batch = options.batch_size
    train, validation = bundle.train.x, bundle.validation.x
    params = anomaly.fit(model, score, train, validation, batch)
    normal = anomaly.scores(model, validation, score, None, batch, params)
    train_scores = anomaly.scores(model, train, score, None, batch, params)
    threshold, method, calibration = _threshold(train_scores, normal,
                                                options)
    scorer, record, train_errors = fit_recorded(model, bundle, options,
                                                params)
    chosen = "live" if options.series_scoring == "live" else "recorded"
    detail = {"quantile": {"quantile": options.quantile},
              "mean_std": {"std_multiplier": options.std_multiplier}}.get(
                  method, {})
    calibrated_on = AUTO if options.threshold_method == "auto" else \
        "held-out normal stretch"
    anomaly.write_threshold(
        workdir, score, threshold, method, calibrated_on=calibrated_on,
        step_score=STEP_SCORE, window=int(train.window),
        calibration_examples=int(len(calibration)),
        calibration_mean=float(normal.mean()),
        calibration_std=float(normal.std()), **detail,
        **({"params": params} if params else {}), recorded=record,
        scoring=chosen)
    scored_test = bundle.test is not None
    windows = bundle.test.x if scored_test else every_window(train)
    source = windows.source
    per_window = anomaly.scores(model, windows, score, None, batch, params)
    live = step_scores(per_window, windows, len(source))
    errors = scorer(source.values) if scored_test else train_errors
    rec, share = recorded.score(errors, record["params"])
    has = ~np.isnan(live)
    live_flagged = np.where(has, live > threshold, False)
    rec_flagged = rec > record["threshold"]
    write_scores_csv(wd.path(workdir, SCORES_CSV), source, live,
                     live_flagged, rec, rec_flagged, share)
    labels = None if source.labels is None else \
        (source.labels != 0).astype(np.int64)
    live_report = {"score": score, "method": method,
                   "calibrated_on": calibrated_on, "step_score": STEP_SCORE,
                   "threshold": float(threshold),
                   "flagged_fraction": float(live_flagged[has].mean()),
                   "calibration_windows": int(len(calibration)),
                   "rules": series_report.live_rules(
                       threshold, normal, train_scores, live[has], labels,
                       windows)}
    rec_report = {**record,
                  "flagged_fraction": float(rec_flagged.mean())}
    if labels is not None and 0 < labels.sum() < len(labels):
        n = int(windows.window)
        live_report.update(ranking(labels[has], live[has], n))
        rec_report.update(ranking(labels, rec, n))
        if scored_test:
            # Normal steps calibration never saw: the test file's. A
            # recorded step sees the windows N - 1 steps either side.
            live_report.update(series_report.fpr(
                live_flagged[has], labels[has],
                all_normal(windows.starts, n, source.anomalous)))
            rec_report.update(series_report.fpr(
                rec_flagged, labels,
                series_report.far_from(source.anomalous, n)))
    reports = {"live": live_report, "recorded": rec_report}
    head = reports[chosen]
    result = {
        "scoring": chosen, "scored_file": source.name,
        "scored_split": "test" if scored_test else "train_file",
        "steps": int(len(source)), "window": int(windows.window),
        **{k: head[k] for k in HEADLINE if k in head},
        "anomaly_fraction": None if labels is None else
        float(labels.mean()), **reports}
    if result["anomaly_fraction"] is None:
        del result["anomaly_fraction"]
    if chosen == "live":
        return result, live, live_flagged, None, windows
    return result, rec, rec_flagged, share, windows


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
    report, steps, flagged, share, windows = evaluate_series(
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
            steps, report["threshold"], flagged, share=share,
            scoring=report["scoring"])
        new["plots"] = ["series_scores.png"]
    return new
