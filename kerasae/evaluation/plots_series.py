"""The picture of a scored series: readings, score, flagged stretches.

`series_scores` draws the features (top) and the step score with its
threshold (bottom) on one time axis, shades the flagged stretches red and
the labelled anomalies (when the file has labels) grey. Long series stay
readable: beyond `MAX_POINTS` steps each pixel-wide bucket is drawn as its
minimum-to-maximum band, so a one-step spike in 100,000 steps still shows,
and shaded stretches are merged runs, not one patch per step. For a
multivariate series scored the recorded way, each flagged stretch is
marked on the feature with the largest share of its score (a ring at its
highest step, labelled with the feature's name): the sensor to look at.
"""

import datetime
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kerasae.data.series import time_values  # noqa: E402

MAX_POINTS = 2000


def runs(mask):
    """`[(first, last + 1), ...]` of the True stretches of a bool array."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def envelope(values, max_points=MAX_POINTS):
    """`(index, low, high)` per bucket of a 1-D array (NaN ignored)."""
    n = len(values)
    size = max(1, -(-n // max_points))
    count = -(-n // size)
    padded = np.full(count * size, np.nan)
    padded[:n] = values
    buckets = padded.reshape(count, size)
    index = np.minimum(np.arange(count) * size + size // 2, n - 1)
    with warnings.catch_warnings():  # all-NaN buckets (no score yet)
        warnings.simplefilter("ignore", RuntimeWarning)
        return index, np.nanmin(buckets, 1), np.nanmax(buckets, 1)


def _axis(source):
    """x values: datetimes for ISO times, numbers for numeric times, else
    step indices; and the axis label."""
    if source.times is None:
        return np.arange(len(source)), "step"
    try:
        return np.array([float(t) for t in source.times]), source.time_name
    except ValueError:
        seconds = time_values(source.times)
        epoch = datetime.datetime(1970, 1, 1)
        return (np.array([epoch + datetime.timedelta(seconds=s)
                          for s in seconds]), source.time_name)


def _draw(ax, x, values, color, label=None):
    if len(values) <= MAX_POINTS:
        ax.plot(x, values, color=color, linewidth=0.8, label=label)
        return
    index, low, high = envelope(values)
    ax.fill_between(x[index], low, high, color=color, linewidth=0,
                    alpha=0.8, label=label, step="mid")


# Flagged stretches marked with their sensor, at most (the largest).
MAX_MARKS = 12


def _mark_features(ax, x, source, steps, flagged, share, colors):
    """Rings the top-share feature at the highest step of each flagged
    stretch (the `MAX_MARKS` highest stretches)."""
    marks = []
    for a, b in runs(flagged):
        top = a + int(np.nanargmax(steps[a:b]))
        marks.append((steps[top], top))
    for _, top in sorted(marks, reverse=True)[:MAX_MARKS]:
        j = int(np.argmax(share[top]))
        ax.plot([x[top]], [source.values[top, j]], "o", markersize=12,
                markerfacecolor="none", markeredgewidth=2,
                color=colors[j % len(colors)])
        ax.annotate(source.feature_names[j], (x[top], source.values[top, j]),
                    textcoords="offset points", xytext=(8, 8), fontsize=9,
                    color=colors[j % len(colors)])


def series_scores(path, source, steps, threshold, flagged, share=None,
                  scoring="recorded"):
    """Writes the picture of one scored file.

    Args:
        path: the PNG file.
        source: the scored raw `kerasae.data.series.Series`.
        steps: `(time,)` step scores (NaN before the first full window).
        threshold: the calibrated threshold.
        flagged: bool `(time,)`.
        share: `(time, features)` each feature's share of the step score
            (recorded scoring), or None.
        scoring: the scoring's name, for the axis label.

    Returns:
        `path`.
    """
    x, x_label = _axis(source)
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(14, 6),
        gridspec_kw={"height_ratios": [3, 2]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, name in enumerate(source.feature_names[:6]):
        _draw(top, x, source.values[:, j], colors[j % len(colors)], name)
    _draw(bottom, x, steps, "black", f"{scoring} score")
    bottom.axhline(threshold, color="red", linewidth=1,
                   label=f"threshold {threshold:.3g}")
    for ax in (top, bottom):
        if source.labels is not None:
            for a, b in runs(source.anomalous):
                ax.axvspan(x[a], x[b - 1], color="0.6", alpha=0.35,
                           linewidth=0)
        for a, b in runs(flagged):
            ax.axvspan(x[a], x[b - 1], color="red", alpha=0.25,
                       linewidth=0)
    if share is not None and share.shape[1] > 1:
        _mark_features(top, x, source, steps, flagged, share, colors)
    top.set_title(f"{source.name}: {int(flagged.sum())} of {len(source)} "
                  "steps flagged (red); labelled anomalies grey"
                  if source.labels is not None else
                  f"{source.name}: {int(flagged.sum())} of {len(source)} "
                  "steps flagged (red)")
    top.legend(loc="upper right", fontsize=8)
    bottom.legend(loc="upper right", fontsize=8)
    bottom.set_xlabel(x_label)
    bottom.set_ylabel(f"{scoring} step score")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
