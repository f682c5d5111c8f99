"""Sensor logs as series: one row per time step, sliding windows on the fly.

With `--window=N` a CSV (or a `.npy` / `.npz` array of shape
`(time, features)`) is one series: rows are consecutive time steps in file
order. An optional time column (numbers or ISO dates) is kept for
reporting, never a feature, and must strictly increase; an optional label
column holds one number per step (0 normal, anything else anomalous; never
renumbered). A training file without the label column is read as
unlabelled, so a clean log trains with the `--label_column` its labelled
test files (`--test_dataset`) have.

Splits are stretches of time, not random samples: the last
`validation_fraction` of the steps is held out, and no validation window
overlaps a training window. Standardization per feature is fitted on the
training stretch. A `Windows` object stands in for the `(n, N, features)`
array of windows: it holds the series once plus the window start indices,
`kerasae.data.make_dataset` gathers each batch of windows inside `tf.data`
(one `tf.gather` of `start + range(N)`), and slicing it (`windows[i:j]`)
builds only those windows. Nothing ever holds `N` copies of the file.
"""

import dataclasses
import datetime
import os
import typing

import numpy as np

from kerasae.data import period
from kerasae.data import preprocessing
from kerasae.data.bundle import DataBundle
from kerasae.data.split import Split
from kerasae.data.tables import read_rows
from kerasae.data.tables import to_numbers
from kerasae.errors import DataError

SERIES = "series"


@dataclasses.dataclass(eq=False)
class Series:
    """One file read as a series, in raw units.

    Attributes:
        name: the file's basename.
        values: float32 `(time, features)`.
        feature_names: one name per feature column.
        times: the time column's cells as written (strings), or None.
        time_name: the time column's name, or None.
        labels: float64 `(time,)` labels as read (0 normal), or None.
        label_name: the label column's name (`y` for `.npz`), or None.
        locate: maps a step index to where the user finds it (`row 7`).
    """

    name: str
    values: np.ndarray
    feature_names: tuple
    times: typing.Optional[np.ndarray] = None
    time_name: typing.Optional[str] = None
    labels: typing.Optional[np.ndarray] = None
    label_name: typing.Optional[str] = None
    locate: typing.Callable = lambda i: f"row {i}"

    def __len__(self):
        return len(self.values)

    @property
    def anomalous(self):
        """bool `(time,)`: label != 0, or None without labels."""
        return None if self.labels is None else self.labels != 0


class Windows:
    """The windows `series[s:s + window]` for each start `s`, built lazily.

    Behaves like a read-only float32 array of shape `(n, window,
    features)` where code slices it (`windows[i:j]` builds those windows)
    or converts it (`np.asarray` builds them all); the training pipeline
    gathers batches inside `tf.data` instead (`make_gather`).

    Attributes:
        series: float32 `(time, features)` in model space.
        starts: int64 `(n,)` first step of each window.
        window: steps per window.
        source: the raw `Series` the windows come from.
    """

    def __init__(self, series, starts, window, source=None):
        self.series = np.asarray(series, np.float32)
        self.starts = np.asarray(starts, np.int64)
        self.window = int(window)
        self.source = source

    def __len__(self):
        return len(self.starts)

    @property
    def shape(self):
        return (len(self.starts), self.window, self.series.shape[1])

    @property
    def ndim(self):
        return 3

    @property
    def dtype(self):
        return self.series.dtype

    @property
    def ends(self):
        """int64 `(n,)`: the last step of each window."""
        return self.starts + self.window - 1

    def __getitem__(self, key):
        starts = self.starts[key]
        return self.series[np.asarray(starts)[..., None]
                           + np.arange(self.window)]

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)

    def covered(self):
        """The model-space steps some window covers, `(steps, features)`."""
        # +1 where a window starts, -1 past its end: the running sum counts
        # the windows holding each step (they overlap; each step once).
        edges = np.zeros(len(self.series) + 1, np.int64)
        np.add.at(edges, self.starts, 1)
        np.add.at(edges, self.starts + self.window, -1)
        return self.series[np.cumsum(edges)[:-1] > 0]

    def min(self):
        return self.covered().min()

    def max(self):
        return self.covered().max()

    def make_gather(self):
        """A function from a batch of window indices to the windows (TF)."""
        import tensorflow as tf

        series = tf.constant(self.series)
        starts = tf.constant(self.starts)
        offsets = tf.range(self.window, dtype=tf.int64)

        def gather(index):
            first = tf.gather(starts, index)
            return tf.gather(series, first[:, None] + offsets)

        return gather


def window_starts(begin, end, window, stride=1):
    """Starts of the windows of `window` steps inside steps [begin, end)."""
    return np.arange(begin, end - window + 1, stride, dtype=np.int64)


def all_normal(starts, window, anomalous):
    """bool per start: every step of its window is normal."""
    # A cumulative count answers each window in O(1).
    count = np.concatenate([[0], np.cumsum(anomalous)])
    return count[starts + window] - count[starts] == 0


def load_series(config, seed=0):
    """Reads, splits and standardizes a series into a `DataBundle`.

    Args:
        config: a `DataConfig` with `window` set.
        seed: unused (the split is contiguous); kept for `load`'s signature.

    Returns:
        A `DataBundle` of kind `series` whose splits hold `Windows`; the
        test split, when `config.test_dataset` is given, holds every
        window (stride 1) of that file.

    Raises:
        DataError: see `read_series`, and a window longer than the series,
            fewer than two training windows, a validation stretch shorter
            than a window, a test file whose columns differ.
    """
    del seed
    # A clean training log need not carry the label column its test
    # files have (the test file must have it).
    series = read_series(config.dataset, config, require_label=False)
    config, _ = period.resolve_window(config, series.values)  # auto
    n = config.window
    _check_long_enough(series, n)
    train_end, validation = _split_steps(series, config)
    normal_only = _train_classes(config, series)
    train_starts = window_starts(0, train_end, n, config.window_stride)
    fit_steps = np.arange(train_end)
    if normal_only:
        train_starts = train_starts[
            all_normal(train_starts, n, series.anomalous)]
        fit_steps = fit_steps[~series.anomalous[:train_end]]
    if len(train_starts) < 2:
        raise DataError(
            f"{series.name}: the training stretch (the first {train_end} "
            f"of {len(series)} steps) holds {len(train_starts)} "
            f"{'all-normal ' if normal_only else ''}window(s) of --window="
            f"{n} steps; need at least two: shorten --window or "
            "--window_stride, or lower --validation_fraction")
    prep = preprocessing.standardize(series.values[fit_steps])
    model_space = prep.apply(series.values)
    train = _split(model_space, train_starts, n, series)
    test = None
    if config.test_dataset:
        other = read_series(config.test_dataset, config)
        _check_same_columns(series, other, config.test_dataset)
        _check_long_enough(other, n)
        test = _split(prep.apply(other.values),
                      window_starts(0, len(other), n), n, other)
    if validation:
        starts = window_starts(train_end, len(series), n)
        if normal_only:
            starts = starts[all_normal(starts, n, series.anomalous)]
        if len(starts) == 0:
            raise DataError(
                f"{series.name}: the held-out validation stretch (the last "
                f"{len(series) - train_end} steps) holds no "
                f"{'all-normal ' if normal_only else ''}window of --window="
                f"{n} steps: raise --validation_fraction or shorten "
                "--window")
        val = _split(model_space, starts, n, series)
    elif test is not None:
        val = test
    else:
        raise DataError(
            "--validation_fraction=0 but there is no --test_dataset to "
            "validate on: use a fraction above 0, e.g. 0.1")
    covered = train.x.covered()
    return DataBundle(
        name=series.name,
        kind=SERIES,
        train=train,
        validation=val,
        test=test,
        input_shape=(n, len(series.feature_names)),
        preprocessing=prep,
        unit_range=False,
        data_range=(float(covered.min()), float(covered.max())),
        num_classes=0,
        feature_names=series.feature_names,
    )


def _split(model_space, starts, window, source):
    windows = Windows(model_space, starts, window, source)
    y = None
    if source.labels is not None:
        # A window is anomalous when any of its steps is.
        y = (~all_normal(starts, window, source.anomalous)).astype(np.int64)
    return Split(windows, y)


def _check_long_enough(series, window):
    if window > len(series):
        raise DataError(
            f"--window={window} is longer than the series {series.name} "
            f"({len(series)} steps): use a window of at most "
            f"{len(series)} steps")


def _split_steps(series, config):
    """`(train_end, has_validation)`: the held-out stretch is at the end."""
    fraction = config.validation_fraction
    if not 0 <= fraction < 1:
        from kerasae.errors import ConfigError
        raise ConfigError(
            f"--validation_fraction={fraction}: must be in [0, 1)")
    held = int(round(len(series) * fraction))
    if fraction > 0 and held < config.window:
        raise DataError(
            f"{series.name}: the held-out validation stretch, the last "
            f"{held} of {len(series)} steps (--validation_fraction="
            f"{fraction}), is shorter than --window={config.window}: raise "
            "the fraction or shorten the window")
    return len(series) - held, held > 0


def _train_classes(config, series):
    classes = tuple(int(c) for c in config.train_classes)
    if not classes:
        return False
    if classes != (0,):
        raise DataError(
            f"--train_classes={','.join(map(str, classes))}: on a series "
            "give --train_classes=0 (train on windows whose steps are all "
            "normal, label 0)")
    if series.labels is None:
        raise DataError(
            f"--train_classes=0 needs labels per step, but {series.name} "
            "has none: give --label_column (a .npz: a 'y' array)")
    return True


def _check_same_columns(train, test, path):
    if tuple(test.feature_names) != tuple(train.feature_names):
        extra = [c for c in test.feature_names
                 if c not in train.feature_names]
        hint = f" (if {extra[0]!r} holds labels, train with --label_column=" \
            f"{extra[0]})" if len(extra) == 1 and \
            train.label_name is None else ""
        raise DataError(
            f"--test_dataset={path}: its features "
            f"({', '.join(test.feature_names)}) differ from the training "
            f"file's ({', '.join(train.feature_names)}); give a file with "
            f"the same columns{hint}")


# ---------------------------------------------------------------- reading
def read_series(path, config, require_label=True):
    """Reads one file as a series, as `config` describes.

    Args:
        path: a `.csv`, `.npy` or `.npz` file.
        config: the `DataConfig` (time, feature, label columns, header).
        require_label: refuse a CSV without `config.label_column`; False
            reads such a file as unlabelled.

    Returns:
        A `Series`.

    Raises:
        DataError: missing file, an unknown column, a cell that is not a
            number (row and column), NaN, unsorted or repeated times.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise DataError(
            f"{path}: no such file; a series is a .csv, .npy or .npz file")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        return _read_csv(path, name, config, require_label)
    if extension in (".npy", ".npz"):
        for flag in ("time_column", "feature_columns", "label_column"):
            if getattr(config, flag):
                raise DataError(
                    f"--{flag} applies to CSV files; {name} is a NumPy "
                    "file (labels per step go in its 'y' array)")
        return _read_array(path, name, extension)
    raise DataError(
        f"--window needs a .csv, .npy or .npz file, not {name!r}")


def _read_csv(path, name, config, require_label=True):
    header, rows, lines = read_rows(path, name, config.csv_header,
                                    unit="time step")
    where = {column: i for i, column in enumerate(header)}
    label_column = config.label_column
    if not require_label and label_column not in where:
        label_column = None

    def index(flag, column):
        if column not in where:
            raise DataError(
                f"{name}: no column {column!r} for --{flag}; the columns "
                f"are: {', '.join(header)}")
        return where[column]

    time_index = None if config.time_column is None else \
        index("time_column", config.time_column)
    label_index = None if label_column is None else \
        index("label_column", label_column)
    special = {time_index, label_index} - {None}
    if config.feature_columns:
        features = [index("feature_columns", c)
                    for c in config.feature_columns]
        clash = [header[i] for i in features if i in special]
        if clash:
            raise DataError(
                f"{name}: --feature_columns names {clash[0]!r}, the time or "
                "label column; a feature cannot be either")
    else:
        features = [i for i in range(len(header)) if i not in special]
    if not features:
        raise DataError(
            f"{name}: no feature columns are left besides the time and "
            "label columns")
    feature_names = tuple(header[i] for i in features)
    try:
        values = to_numbers([[row[i] for i in features] for row in rows],
                             name, lines, feature_names)
    except DataError as error:
        if config.time_column is None and "is not a number" in str(error):
            raise DataError(f"{error}; if it is the time, give "
                            "--time_column") from None
        raise
    series = Series(name=name, values=values, feature_names=feature_names,
                    locate=lambda i: f"row {lines[i]}")
    if time_index is not None:
        series.time_name = header[time_index]
        series.times = np.array([row[time_index] for row in rows],
                                dtype=object)
        _check_times(series)
    if label_index is not None:
        series.label_name = header[label_index]
        series.labels = _labels([row[label_index] for row in rows], name,
                                series.label_name, lines)
    return series


def _labels(cells, name, column, lines):
    labels = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            labels[i] = float(cell)
        except ValueError:
            labels[i] = np.nan
        if not np.isfinite(labels[i]):
            raise DataError(
                f"{name}: row {lines[i]}, column {column!r}: {cell!r} is not "
                "a number; a series label is 0 (normal) or another number "
                "(anomalous)")
    return labels


def time_values(cells):
    """Seconds (or the numbers themselves) of time cells, float64.

    Raises:
        ValueError: naming the index of the first cell that is neither a
            number nor an ISO 8601 date.
    """
    try:
        return np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            moment = datetime.datetime.fromisoformat(cell)
        except ValueError:
            raise ValueError(i) from None
        if moment.tzinfo is None:  # naive: read as UTC, all the same way
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        out[i] = moment.timestamp()
    return out


def _check_times(series):
    cells = series.times
    try:
        seconds = time_values(cells)
    except ValueError as error:
        i = error.args[0]
        raise DataError(
            f"{series.name}: {series.locate(i)}, column "
            f"{series.time_name!r}: {cells[i]!r} is neither a number nor an "
            "ISO date (e.g. 2024-01-31T08:00:00)") from None
    if not np.all(np.isfinite(seconds)):
        i = int(np.flatnonzero(~np.isfinite(seconds))[0])
        raise DataError(
            f"{series.name}: {series.locate(i)}, column "
            f"{series.time_name!r}: {cells[i]!r} is not a finite time")
    bad = np.flatnonzero(np.diff(seconds) <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        kind = "repeats" if seconds[i] == seconds[i - 1] else \
            "comes before"
        raise DataError(
            f"{series.name}: {series.locate(i)}, column "
            f"{series.time_name!r}: time {cells[i]!r} {kind} "
            f"{series.locate(i - 1)}'s {cells[i - 1]!r}; sort the rows by "
            "time and drop repeated times")


def _read_array(path, name, extension):
    try:
        if extension == ".npy":
            values, labels = np.load(path, allow_pickle=False), None
        else:
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive.files:
                    raise DataError(
                        f"{name} holds no array 'x': save the series as 'x' "
                        "(and labels per step as 'y')")
                values = archive["x"]
                labels = archive["y"] if "y" in archive.files else None
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read {path!r} as a NumPy file: "
                        f"{str(e).splitlines()[0] if str(e) else e}") \
            from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.dtype.kind not in "biuf" or \
            not len(values):
        raise DataError(
            f"{name}: a series is an array of numbers of shape (time, "
            f"features), not {values.dtype} of shape {values.shape}")
    bad = ~np.isfinite(values.astype(np.float64))
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name}: row {r}, column {c} is {values[r, c]}: remove or "
            "replace NaN and infinite values")
    series = Series(name=name, values=values.astype(np.float32),
                    feature_names=tuple(str(i) for i in
                                        range(values.shape[1])),
                    locate=lambda i: f"row {i}")
    if labels is not None:
        labels = np.asarray(labels, np.float64).reshape(-1)
        if len(labels) != len(values) or not np.all(np.isfinite(labels)):
            raise DataError(
                f"{name}: 'y' must hold one finite label per time step "
                f"({len(values)}), got shape {np.shape(labels)}")
        series.labels, series.label_name = labels, "label"
    return series
