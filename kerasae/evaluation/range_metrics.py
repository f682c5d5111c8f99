"""Ranking metrics of step scores that know anomalies are stretches.

- `vus`: VUS-ROC and VUS-PR, the volume under the range-ROC and
  range-PR surfaces (Paparrizos et al., "Volume Under the Surface",
  VLDB 2022), the measure the TSB-AD benchmark (NeurIPS 2024) recommends.
  Each labelled stretch gets a buffer of `w // 2` steps on either side
  whose label decays as sqrt(1 - d / w), so a detector that fires just
  before or after a stretch gets part credit, and a TPR counts only the
  stretches it touches; the areas are averaged over buffers w = 0 ..
  `max_buffer`. This follows TSB-AD's `RangeAUC_volume_opt`
  (`TSB_AD/evaluation/basic_metrics.py`: 250 thresholds at evenly spaced
  ranks of the sorted scores, trapezoids for ROC, steps for PR), with
  `max_buffer` = 2 x the window as its `get_metrics` passes.
- `top_score_hit`: the UCR anomaly archive's test (Wu and Keogh 2021):
  is the single highest score within `tolerance` (100) steps of a
  labelled anomaly.
"""

import numpy as np

THRESHOLDS = 250


def stretches(labels):
    """`[(first, last), ...]` of the labelled stretches (inclusive)."""
    padded = np.concatenate([[0], np.asarray(labels) != 0, [0]]).astype(
        np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _merged(segments, half, steps):
    """The stretches widened by `half` each side, overlapping ones merged
    (TSB-AD's `new_sequence`)."""
    out = []
    start = max(segments[0][0] - half, 0)
    for (_, end), (nxt, _) in zip(segments[:-1], segments[1:]):
        if end + half < nxt - half:
            out.append((start, end + half))
            start = nxt - half
    out.append((start, min(segments[-1][1] + half, steps - 1)))
    return out


def _extended(labels, segments, w):
    """Labels with the sqrt-decaying buffer of width w (`sequencing`)."""
    out = labels.astype(np.float64)
    steps = len(out)
    for s, e in segments:
        after = np.arange(e + 1, min(e + w // 2 + 1, steps))
        out[after] += np.sqrt(1 - (after - e) / w)
        before = np.arange(max(s - w // 2, 0), s)
        out[before] += np.sqrt(1 - (s - before) / w)
    return np.minimum(out, 1.0)


def vus(labels, scores, max_buffer):
    """`(vus_roc, vus_pr)` of step scores against 0/1 step labels.

    Args:
        labels: 1 anomalous, 0 normal, per step.
        scores: higher is more anomalous, per step (finite).
        max_buffer: the largest buffer w (TSB-AD: twice the window).

    Returns:
        Two floats in [0, 1], nan when there is no anomaly.
    """
    y = (np.asarray(labels) != 0).astype(np.float64)
    s = np.asarray(scores, np.float64)
    if y.sum() == 0 or y.sum() == len(y):
        return float("nan"), float("nan")
    steps, positives = len(y), y.sum()
    segments = stretches(y)
    ranked = np.sort(s)
    cuts = ranked[::-1][np.linspace(0, steps - 1, THRESHOLDS).astype(int)]
    flagged = (steps - np.searchsorted(ranked, cuts, "left")).astype(
        np.float64)
    # Only the steps near a stretch (the widest buffer) earn credit: the
    # flags are built there alone, so a long log costs what its
    # anomalies cost.
    near_steps = np.concatenate([np.arange(a, b + 1) for a, b in _merged(
        segments, max_buffer // 2, steps)])
    predicted = (s[near_steps][None, :] >= cuts[:, None]).astype(
        np.float64)                                      # [thresholds, R]
    hits = predicted @ y[near_steps]                     # anomalous steps
    prefix = np.concatenate([np.zeros((THRESHOLDS, 1)),
                             np.cumsum(predicted, axis=1)], axis=1)

    def local(step):
        return int(np.searchsorted(near_steps, step))

    roc, pr = [], []
    for w in range(max_buffer + 1):
        extended = _extended(y, segments, w)
        buffer = np.where(y == 1, 0.0, extended)
        near = predicted @ buffer[near_steps]            # buffer credit
        merged = _merged(segments, w // 2, steps)
        touched = sum((prefix[:, local(b) + 1] - prefix[:, local(a)]) > 0
                      for a, b in merged)
        true_pos = hits + near
        expected = positives + near / 2                  # (P + P + B) / 2
        tpr = np.minimum(true_pos / expected, 1) * touched / len(merged)
        fpr = (flagged - true_pos) / (steps - expected)
        precision = true_pos / flagged
        tpr = np.concatenate([[0.0], tpr, [1.0]])
        fpr = np.concatenate([[0.0], fpr, [1.0]])
        roc.append(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        pr.append(np.sum(np.diff(tpr[:-1]) * precision))
    return float(np.mean(roc)), float(np.mean(pr))


def top_score_hit(labels, scores, tolerance=100):
    """True when the highest score is within `tolerance` steps of an
    anomalous step (UCR); None without anomalies. NaN scores are skipped.
    """
    y = np.asarray(labels) != 0
    if not y.any():
        return None
    top = int(np.nanargmax(np.asarray(scores, np.float64)))
    lo, hi = max(0, top - tolerance), top + tolerance + 1
    return bool(y[lo:hi].any())
