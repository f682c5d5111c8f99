"""What a scored series reports: ranking figures, false alarms, scores.csv.

`ranking` gives the figures of a step score against step labels: point
AUROC / AUPRC (`kerasae.evaluation.detection_metrics`), VUS-ROC / VUS-PR
and `top_score_hit` (`kerasae.evaluation.range_metrics`). `fpr` is the
share of normal steps flagged, on all of them and on the `clean` ones
whose windows are all normal (for a live score, the window ending at the
step; for a recorded one, every window holding it: `far_from`). The live
thresholding rules are compared on the same scores (`live_rules`), and
`write_scores_csv` writes one row per step with both scorings.
"""

import csv
import os

import numpy as np

from kerasae.data.series import all_normal
from kerasae.evaluation.detection_metrics import auprc
from kerasae.evaluation.detection_metrics import auroc
from kerasae.evaluation.range_metrics import top_score_hit
from kerasae.evaluation.range_metrics import vus


def ranking(labels, scores, window):
    """Point AUROC / AUPRC, VUS-ROC / VUS-PR and `top_score_hit`."""
    vus_roc, vus_pr = vus(labels, scores, 2 * window)
    return {"auroc": auroc(labels, scores), "auprc": auprc(labels, scores),
            "vus_roc": vus_roc, "vus_pr": vus_pr,
            "top_score_hit": top_score_hit(labels, scores)}


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


HEADLINE = ("threshold", "flagged_fraction", "auroc", "auprc", "vus_roc",
            "vus_pr", "top_score_hit", "fpr_normal_steps",
            "fpr_normal_windows")


def fpr(flagged, labels, clean):
    """Normal steps flagged; and among the `clean` ones (whose windows
    are all normal)."""
    out = {"fpr_normal_steps": float(flagged[labels == 0].mean())}
    if clean.any():
        out["fpr_normal_windows"] = float(flagged[clean].mean())
    return out


def far_from(anomalous, window):
    """bool per step: no anomalous step within `window - 1` either side."""
    count = np.concatenate([[0], np.cumsum(anomalous)])
    t = np.arange(len(anomalous))
    lo = np.maximum(t - window + 1, 0)
    hi = np.minimum(t + window, len(anomalous))
    return count[hi] - count[lo] == 0


def live_rules(threshold, normal, train_scores, steps, labels, windows):
    """The live scores thresholded by each rule (see the module)."""
    labels = None if labels is None else labels[windows.ends[0]:]
    clean = None if labels is None else all_normal(
        windows.starts, windows.window, windows.source.anomalous)
    return {
        "calibrated": rule_report(threshold, steps, labels, clean),
        "max_train_error": rule_report(train_scores.max(), steps, labels,
                                       clean),
        "held_out_max": rule_report(normal.max(), steps, labels, clean),
        "held_out_q99": rule_report(np.quantile(normal, 0.99), steps,
                                    labels, clean),
        "mean_plus_std": rule_report(
            train_scores.mean() + train_scores.std(), steps, labels, clean),
    }


def _cell(value):
    return str(int(value)) if float(value).is_integer() else repr(value)


def write_scores_csv(path, source, live, live_flagged, rec, rec_flagged,
                     share):
    """One row per time step: time, both scorings, feature shares, label.

    Columns: the time column, `live_score`, `live_flagged`,
    `recorded_score`, `recorded_flagged`, then for a multivariate series
    `<feature>_share` per feature (its part of the recorded score, summing
    to 1), and the label column. Time cells and labels are written as the
    file had them; a step without a complete window ending at it has an
    empty `live_score`.
    """
    names = list(source.feature_names) if share.shape[1] > 1 else []
    header = ([source.time_name] if source.times is not None else []) + \
        ["live_score", "live_flagged", "recorded_score",
         "recorded_flagged"] + [f"{name}_share" for name in names] + \
        ([source.label_name] if source.labels is not None else [])
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(len(source)):
            row = [] if source.times is None else [source.times[i]]
            row += ["" if np.isnan(live[i]) else f"{live[i]:.7g}",
                    int(live_flagged[i]), f"{rec[i]:.7g}",
                    int(rec_flagged[i])]
            if names:
                row += [f"{v:.4f}" for v in share[i]]
            if source.labels is not None:
                row.append(_cell(source.labels[i]))
            writer.writerow(row)
    os.replace(temporary, path)
    return path
