"""The dominant period of a series, for `--window=auto`.

A window one period long holds one full cycle of a periodic sensor (a
day of readings, one heart beat), which is what an autoencoder of windows
should learn; the keras-io and TSB-AD detectors pick it the same way.
The period is read from the autocorrelation: each feature is
standardized, the biased autocorrelation (the estimator that decays with
the lag, so a multiple of the period never outranks the period itself)
is averaged over features, and the period is the lag of its highest
local maximum after it first drops below zero. A series whose highest
such peak is below `MIN_PEAK` has no period, and gets `DEFAULT_WINDOW`.
"""

import numpy as np

AUTO = "auto"
# A window for series without a clear period: long enough to hold a
# shape, short enough to localize it.
DEFAULT_WINDOW = 64
# Below this autocorrelation the repeats are too weak to call a period.
MIN_PEAK = 0.2
MIN_PERIOD = 4
# Autocorrelation of the first steps only: a period shows in any stretch
# of a few hundred cycles, and a 1,000,000-step log stays fast.
MAX_STEPS = 200_000


def autocorrelation(values, max_lag):
    """Biased autocorrelation, averaged over standardized features.

    Args:
        values: `(time,)` or `(time, features)` numbers.
        max_lag: the largest lag returned.

    Returns:
        float64 `(max_lag + 1,)`, 1 at lag 0; all zeros when every
        feature is constant.
    """
    x = np.asarray(values, np.float64)
    x = x.reshape(len(x), -1)[:MAX_STEPS]
    std = x.std(axis=0)
    x = (x[:, std > 0] - x[:, std > 0].mean(axis=0)) / std[std > 0]
    n = len(x)
    if x.shape[1] == 0:
        return np.zeros(max_lag + 1)
    size = 1 << int(np.ceil(np.log2(2 * n)))  # no circular wrap-around
    spectrum = np.fft.rfft(x, size, axis=0)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size, axis=0)[
        :max_lag + 1] / n
    return acf.mean(axis=1)


def dominant_period(values, max_period=None):
    """The series' dominant period in steps, or None without one.

    Args:
        values: `(time,)` or `(time, features)` numbers.
        max_period: the longest period considered; default a quarter of
            the series (at least four cycles to see a repeat).

    Returns:
        An int, or None when the autocorrelation shows no clear repeat.
    """
    n = len(values)
    max_lag = min(max_period or n // 4, n // 2)
    if max_lag < MIN_PERIOD:
        return None
    acf = autocorrelation(values, max_lag)
    below = np.flatnonzero(acf < 0)
    if len(below) == 0:
        return None
    first = max(int(below[0]), MIN_PERIOD)
    lags = np.arange(first, max_lag)
    peaks = lags[(acf[lags] >= acf[lags - 1]) & (acf[lags] > acf[lags + 1])]
    if len(peaks) == 0:
        return None
    best = int(peaks[np.argmax(acf[peaks])])
    return best if acf[best] >= MIN_PEAK else None


def auto_window(values, longest):
    """`(window, reason)` for `--window=auto` on a training series.

    Args:
        values: the training series `(time, features)`.
        longest: the longest window the series allows.

    Returns:
        The window (at least 2 steps, at most `longest`) and a short
        sentence saying where it came from, for `config.json` readers
        and the summary.
    """
    period = dominant_period(values)
    if period is None:
        window = max(2, min(DEFAULT_WINDOW, longest))
        return window, (f"no clear period in the autocorrelation: the "
                        f"default window of {window} steps")
    window = max(2, min(period, longest))
    return window, (f"the dominant period, {period} steps "
                    "(autocorrelation peak)")


def resolve_window(config, values):
    """`(config, reason)`: a `DataConfig` with `--window=auto` resolved.

    Any other window is returned as is, with reason None. The longest
    window allowed leaves two training windows and fits the held-out
    stretch (`validation_fraction`), so `auto` never picks a window the
    split then refuses.

    Args:
        config: a `kerasae.config.DataConfig`.
        values: the whole training file, `(time, features)`.
    """
    if config.window != AUTO:
        return config, None
    import dataclasses

    steps = len(values)
    held = int(round(steps * config.validation_fraction))
    longest = steps - held - 1
    if held:
        longest = min(longest, held)
    window, reason = auto_window(values, longest)
    return dataclasses.replace(config, window=window), reason
