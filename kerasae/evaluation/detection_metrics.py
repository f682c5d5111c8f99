"""Ranking metrics of anomaly scores, in numpy: AUROC, AUPRC, P/R/F1.

Labels are 1 for anomalies and 0 for normal examples; higher scores mean
more anomalous. No scikit-learn: the definitions are short and tested
against hand-computed cases and brute-force pair counting.
"""

import numpy as np


def _ranks(values):
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(
        np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + end + 1)
    return ranks


def auroc(labels, scores_):
    """Area under the ROC curve; ties count one half.

    The Mann-Whitney statistic U / (n_pos n_neg) (Hanley and McNeil 1982):
    the probability that a random anomaly scores above a random normal
    example.

    Args:
        labels: 1 for anomalies, 0 for normal examples.
        scores_: higher is more anomalous.

    Returns:
        A float in [0, 1], or nan when one class is absent.
    """
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(np.asarray(scores_, dtype=np.float64))
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auprc(labels, scores_):
    """Area under the precision-recall curve, as average precision.

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds taken
    from high to low (the step-wise estimate of Manning et al. 2008,
    Section 8.4; tied scores enter together).

    Returns:
        A float in [0, 1], or nan when there are no anomalies.
    """
    y = np.asarray(labels).astype(np.float64)
    s = np.asarray(scores_, dtype=np.float64)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    true_pos = np.cumsum(y)[last]
    precision = true_pos / (last + 1)
    recall = true_pos / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(labels, predicted):
    """Precision, recall and F1 of 0/1 predictions (1: anomaly).

    Returns:
        `{"precision", "recall", "f1"}`; an empty denominator gives 0.
    """
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predicted).astype(bool)
    tp = float(np.sum(y & p))
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}
