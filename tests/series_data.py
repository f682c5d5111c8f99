"""Generated sensor logs for the series tests and the benchmark.

A daily pattern (two harmonics of a 48-step period, like NAB's artificial
"daily" series) plus Gaussian noise, with one injected anomaly sized
against the noise:

- `jump`: the level shifts up by 10 noise sigmas for a stretch;
- `flat`: the sensor sticks at the pattern's mean, a value well inside
  the normal range, for a stretch (only the missing rhythm gives it away);
- `spike`: a few steps jump 25 noise sigmas up.
"""

import csv
import datetime

import numpy as np

PERIOD = 48
NOISE = 0.1
KINDS = ("jump", "flat", "spike")


def pattern(steps, phase=0):
    t = np.arange(steps) + phase
    return (np.sin(2 * np.pi * t / PERIOD)
            + 0.5 * np.sin(4 * np.pi * t / PERIOD + 1.0))


def make_series(steps, seed=0, anomaly=None, start=None, length=None,
                phase=0):
    """`(values (steps, 2), labels (steps,))`: two sensors, one anomaly.

    The second sensor is the first's pattern shifted by a quarter period,
    with its own noise; the anomaly hits the first sensor.
    """
    rng = np.random.default_rng(seed)
    first = pattern(steps, phase) + NOISE * rng.standard_normal(steps)
    second = pattern(steps, phase + PERIOD // 4) \
        + NOISE * rng.standard_normal(steps)
    labels = np.zeros(steps, np.int64)
    if anomaly is not None:
        length = length or {"jump": 60, "flat": 72, "spike": 3}[anomaly]
        start = steps // 2 if start is None else start
        span = slice(start, start + length)
        if anomaly == "jump":
            first[span] += 10 * NOISE
        elif anomaly == "flat":
            first[span] = pattern(steps).mean() + \
                0.2 * NOISE * rng.standard_normal(length)
        elif anomaly == "spike":
            first[span] += 25 * NOISE
        else:
            raise ValueError(anomaly)
        labels[span] = 1
    return np.stack([first, second], axis=1), labels


def write_csv(path, values, labels=None, start=datetime.datetime(2024, 1, 1),
              minutes=30):
    """Writes `timestamp,temperature,pressure[,anomaly]` rows."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "temperature", "pressure"]
                        + ([] if labels is None else ["anomaly"]))
        for i, row in enumerate(values):
            moment = start + datetime.timedelta(minutes=minutes * i)
            writer.writerow([moment.isoformat()] + [f"{v:.5f}" for v in row]
                            + ([] if labels is None else [int(labels[i])]))
    return str(path)
