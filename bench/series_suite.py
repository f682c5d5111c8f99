"""Generated sensor logs with labelled anomalies, for `series_detectors.py`.

Each case is a clean training log and test logs of the same process, one
anomaly each. Bases (`BASES`):

- `periodic`: two harmonics of a period P (like NAB's artificial daily
  series), each sensor its own phase, plus Gaussian noise (0.1);
- `aperiodic`: smoothed white noise (a 24-step moving average, unit
  variance), sensors sharing one such process half and having their own
  half, plus the same noise: no period for the autocorrelation to find.

Anomaly kinds (`KINDS`, the UCR archive's and NAB's), injected into one
sensor (the second of three, or the only one), sized against that
sensor's standard deviation `sd`:

- `spike`: one step + 3 sd;
- `level_shift`: + 1 sd for two periods;
- `amplitude`: the deviation from the mean x 1.8 for two periods;
- `frequency`: the stretch played at twice the speed for two periods;
- `noise_burst`: + Gaussian noise of 0.5 sd for two periods;
- `flat`: stuck at the mean (with 0.02 sd of noise) for two periods;
- `distortion`: one period time-warped (a missing or misshapen beat);
- `drift`: a ramp from 0 to 1.5 sd over a tenth of the log (at most
  5,000 steps), then back.

"Two periods" is 2 P on a periodic base and 128 steps on an aperiodic
one. The anomaly starts at a seeded step in the second half of the log.
"""

import numpy as np

BASES = ("periodic", "aperiodic")
KINDS = ("spike", "level_shift", "amplitude", "frequency", "noise_burst",
         "flat", "distortion", "drift")
NOISE = 0.1
SMOOTH = 24


def _periodic(t, period, phase):
    angle = 2 * np.pi * (t + phase) / period
    return np.sin(angle) + 0.5 * np.sin(2 * angle + 1.0)


def _smooth(rng, steps):
    raw = rng.standard_normal(steps + SMOOTH)
    out = np.convolve(raw, np.ones(SMOOTH) / SMOOTH, "valid")[:steps]
    return out / out.std()


def clean(base, features, steps, period, rng, offset=0):
    """`(steps, features)` of the base process with sensor noise.

    `offset` shifts a periodic base in time (a test log starts anywhere
    in the cycle); `period` is ignored for the aperiodic base.
    """
    t = np.arange(steps, dtype=np.float64) + offset
    if base == "periodic":
        signal = np.stack([_periodic(t, period, j * period / (features + 1))
                           for j in range(features)], axis=1)
    else:
        shared = _smooth(rng, steps)
        signal = np.stack([(shared + _smooth(rng, steps)) / np.sqrt(2)
                           for _ in range(features)], axis=1)
    return signal + NOISE * rng.standard_normal(signal.shape)


def stretch_length(kind, base, period, steps):
    """Steps the anomaly of `kind` lasts."""
    cycle = period if base == "periodic" else 64
    return {"spike": 1, "distortion": cycle,
            "drift": min(steps // 10, 5000)}.get(kind, 2 * cycle)


def inject(values, kind, base, period, sensor, rng):
    """Adds one anomaly of `kind` to `values` (in place); returns labels."""
    steps = len(values)
    length = stretch_length(kind, base, period, steps)
    start = int(rng.integers(steps // 2, steps - length - 1))
    span = slice(start, start + length)
    x = values[:, sensor]
    sd, mean = x.std(), x.mean()
    k = np.arange(length)
    if kind == "spike":
        x[span] += 3 * sd
    elif kind == "level_shift":
        x[span] += sd
    elif kind == "amplitude":
        x[span] = mean + 1.8 * (x[span] - mean)
    elif kind == "frequency":
        source = np.minimum(start + 2 * k, steps - 1)
        x[span] = x[source]
    elif kind == "noise_burst":
        x[span] += 0.5 * sd * rng.standard_normal(length)
    elif kind == "flat":
        x[span] = mean + 0.02 * sd * rng.standard_normal(length)
    elif kind == "distortion":
        # A monotone warp of the stretch onto itself (derivative >= 0.2).
        warp = k + 0.255 * length * np.sin(np.pi * k / length)
        x[span] = np.interp(start + warp, np.arange(steps), x.copy())
    elif kind == "drift":
        x[span] += 1.5 * sd * k / length
    else:
        raise ValueError(kind)
    labels = np.zeros(steps, np.int64)
    labels[span] = 1
    return labels


def make_case(base, features, period, train_steps, test_steps, seed):
    """A clean training log and one test log per anomaly kind.

    Returns:
        `(train (steps, features), {kind: (values, labels)})`.
    """
    rng = np.random.default_rng(seed)
    train = clean(base, features, train_steps, period, rng)
    sensor = 1 if features > 1 else 0
    tests = {}
    for kind in KINDS:
        offset = int(rng.integers(0, 10 * period))
        values = clean(base, features, test_steps, period, rng, offset)
        tests[kind] = (values, inject(values, kind, base, period, sensor,
                                      rng))
    return train.astype(np.float32), tests
