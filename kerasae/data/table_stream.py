"""Large CSV and `.npy` files as `tf.data` pipelines.

A CSV file is read in chunks of `CHUNK_ROWS` rows, with the in-memory
reader's checks and messages (file, row and column of a bad cell). One
streaming pass before training checks every cell, counts the rows and
collects the label names, and accumulates the per-feature mean and
standard deviation of the training rows (Chan, Golub and LeVeque 1979:
per-chunk means and sums of squared deviations, merged in float64), per
label so that `--train_classes` needs no second pass. A `.npy` file is
memory-mapped and read in chunks the same way.

Validation rows are chosen by a hash of the row's index (`row_held_out`):
the same rows on every run and every worker, without holding any row.
Under a multi-worker strategy each worker keeps every `workers`-th row
from its own index on. Shuffling is by chunk order (`.npy`) and a bounded
buffer of rows: a CSV file is read front to back.
"""

import csv
import math
import os

import numpy as np
import tensorflow as tf

from kerasae.data import csv_source
from kerasae.data import preprocessing
from kerasae.data.labels import encode_labels
from kerasae.data.streaming import StreamSplit
from kerasae.data.streaming import float32_megabytes
from kerasae.errors import DataError

CHUNK_ROWS = 32_768
# The in-memory CSV reader holds every cell as a Python string while it
# parses: a 52 MB file of 32 numeric columns peaked at 1,386 MiB (26x;
# its float32 data is 28 MB). A CSV file's decoded size counts that.
CSV_TEXT_FACTOR = 26
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_held_out(rows, fraction):
    """Whether each row index in `rows` is held out for validation.

    splitmix64 (Steele, Lea and Flood 2014) of the index, as a fraction of
    2**64, below `fraction`: about `fraction` of the rows, always the same.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(rows, np.uint64) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z < np.uint64(min(fraction, 1.0) * 2.0**64)


def csv_megabytes(path):
    """What reading the CSV file whole costs, in MB: `CSV_TEXT_FACTOR`
    times its size on disk, or its rows times columns as float32 if that
    is more (lines counted in one pass over the bytes, nothing parsed)."""
    with open(path, "rb") as f:
        header = f.readline()
        lines = sum(block.count(b"\n")
                    for block in iter(lambda: f.read(2**24), b""))
    columns = header.count(b",") + 1
    return max(float32_megabytes(lines, (columns,)),
               CSV_TEXT_FACTOR * os.path.getsize(path) / 2**20)


def npy_megabytes(path):
    """The `.npy` array as float32 MB, from its header; None if unreadable
    (the reader then says why)."""
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return float32_megabytes(1, x.shape)


class _Moments:
    """Count, mean, sum of squared deviations, min and max per feature."""

    def __init__(self, width):
        self.n = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.low = np.full(width, np.inf)
        self.high = np.full(width, -np.inf)

    def add(self, x):
        if not len(x):
            return
        x = np.asarray(x, np.float64)
        n, mean = len(x), x.mean(axis=0)
        m2 = np.square(x - mean).sum(axis=0)
        self.merge(n, mean, m2, x.min(axis=0), x.max(axis=0))

    def merge(self, n, mean, m2, low, high):
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.n * n / total)
        self.n = total
        self.low = np.minimum(self.low, low)
        self.high = np.maximum(self.high, high)


class _Table:
    """What `CsvTable` and `NpyTable` share: splits from a scan."""

    scaling = preprocessing.STANDARDIZE
    num_classes = 0
    feature_names = ()

    def splits(self, fraction, classes):
        """`(train, validation, preprocessing, data_range)`.

        Raises:
            DataError: no validation share, or too few rows on a side.
        """
        if fraction <= 0:
            raise DataError(
                f"--validation_fraction=0 but {self.name} has no test split "
                "to validate on: use a fraction above 0, e.g. 0.1")
        self._scan(fraction)
        keep = self._classes(classes)
        train = self._merged(keep, False)
        validation = self._merged(keep, True)
        if train.n == 0 or validation.n == 0:
            raise DataError(
                f"{self.name}: {train.n + validation.n} rows are too few to "
                f"hold out a validation split by row hash "
                f"(--validation_fraction={fraction}); use "
                "--data_path=memory")
        if self.scaling == preprocessing.STANDARDIZE:
            scale = np.sqrt(train.m2 / train.n)
            scale = np.where(train.high == train.low, 1.0, scale)
            prep = preprocessing.Preprocessing(train.mean, scale)
        else:
            prep = preprocessing.fit(self.scaling, None)
        low = (train.low - prep.offset.astype(np.float64)) / prep.scale
        high = (train.high - prep.offset.astype(np.float64)) / prep.scale
        data_range = (float(low.min()), float(high.max()))
        make = self._split
        return (make(fraction, keep, False, train.n),
                make(fraction, keep, True, validation.n), prep, data_range)

    def _classes(self, classes):
        if not classes:
            return None
        if self.label_index is None:
            raise DataError(
                f"--train_classes needs labels, but {self.name} has none "
                "(give a label column, a 'y' array, or one subfolder per "
                "class)")
        keep = tuple(int(c) for c in classes)
        present = set(self.codes.values())
        absent = [c for c in keep if c not in present]
        if absent:
            raise DataError(
                f"--train_classes: class {absent[0]} is absent from the "
                f"training data of {self.name}")
        return keep

    def _merged(self, keep, held):
        total = _Moments(self.width)
        for (label, is_held), m in self.moments.items():
            if is_held != held:
                continue
            if keep is not None and self.codes[label] not in keep:
                continue
            total.merge(m.n, m.mean, m.m2, m.low, m.high)
        return total

    def _split(self, fraction, keep, held, count):
        width_shape = self.example_shape
        with_labels = self.label_index is not None
        wanted = None if keep is None else np.asarray(keep, np.int64)

        def generator(shuffle, seed, workers, index):
            for x, y, rows in self._chunks(bool(shuffle), int(seed)):
                mask = row_held_out(rows, fraction) == held
                if wanted is not None:
                    mask &= np.isin(y, wanted)
                if workers > 1:
                    mask &= rows % workers == index
                yield x[mask], y[mask]

        def examples(shuffle, seed, shard):
            workers, index = shard or (1, 0)
            ds = tf.data.Dataset.from_generator(
                generator, args=(shuffle, seed, workers, index),
                output_signature=(
                    tf.TensorSpec((None,) + width_shape, self.dtype),
                    tf.TensorSpec((None,), tf.int64)))
            return ds.unbatch()

        return StreamSplit(
            examples, count, with_labels,
            math.prod(width_shape) * np.dtype(self.dtype).itemsize,
            name="validation" if held else "train")


class CsvTable(_Table):
    """A CSV file read in chunks (see the module docstring)."""

    dtype = np.float32

    def __init__(self, path, label_column=None):
        self.path = path
        self.name = os.path.basename(path)
        header, _ = self._header()
        if label_column is not None and label_column not in header:
            raise DataError(
                f"{self.name}: no column {label_column!r} for "
                f"--label_column; the columns are: {', '.join(header)}")
        self.label_index = None if label_column is None else \
            header.index(label_column)
        self.label_column = label_column
        self.feature_index = [i for i in range(len(header))
                              if i != self.label_index]
        if not self.feature_index:
            raise DataError(
                f"{self.name}: the only column is the label "
                f"{label_column!r}; there are no features")
        self.feature_names = tuple(header[i] for i in self.feature_index)
        self.header = header
        self.width = len(self.feature_index)
        self.example_shape = (self.width,)
        self.codes = {None: -1}

    def _open(self):
        # utf-8-sig drops a spreadsheet's byte-order mark, as in memory.
        return open(self.path, newline="", encoding="utf-8-sig")

    def _header(self):
        try:
            with self._open() as f:
                reader = csv.reader(f)
                for row in reader:
                    if any(cell.strip() for cell in row):
                        return [cell.strip() for cell in row], reader.line_num
        except UnicodeDecodeError as e:
            raise DataError(
                f"cannot decode {self.path!r} as UTF-8 text (byte "
                f"{e.start}): save the CSV as UTF-8") from None
        raise DataError(
            f"{self.name} is empty: expected a header row, then one row "
            "of numbers per example")

    def _raw_chunks(self):
        """Yields `(x, label strings or None, line numbers)` per chunk.

        NumPy's C parser (`np.loadtxt`) reads a chunk about 7 times
        faster than the `csv` module; a chunk it refuses, or that holds a
        value the checks reject, is read again the in-memory reader's
        way, which names the file, row and column of the bad cell.
        """
        try:
            with self._open() as f:
                header_seen = False
                lines, numbers = [], []
                for number, line in enumerate(f, start=1):
                    if not line.strip().strip(","):
                        continue  # blank line, e.g. a trailing newline
                    if not header_seen:
                        header_seen = True
                        continue
                    lines.append(line)
                    numbers.append(number)
                    if len(lines) == CHUNK_ROWS:
                        yield self._parse(lines, numbers)
                        lines, numbers = [], []
                if lines:
                    yield self._parse(lines, numbers)
        except UnicodeDecodeError as e:
            raise DataError(
                f"cannot decode {self.path!r} as UTF-8 text (byte "
                f"{e.start}): save the CSV as UTF-8") from None

    def _parse(self, lines, numbers):
        x = None
        commas = np.char.count(np.array(lines), ",")
        if np.any(commas != len(self.header) - 1):
            # Ragged (or quoted commas): the csv module decides.
            return self._parse_slowly(lines, numbers)
        try:
            x = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2,
                           quotechar='"', usecols=self.feature_index,
                           comments=None)
        except ValueError:
            pass
        if x is None or len(x) != len(lines) or not np.all(
                np.isfinite(x)) or np.any(
                    np.abs(x) > np.finfo(np.float32).max):
            return self._parse_slowly(lines, numbers)
        labels = None
        if self.label_index is not None:
            labels = np.char.strip(np.loadtxt(
                lines, delimiter=",", dtype=str, ndmin=1, quotechar='"',
                usecols=self.label_index, comments=None))
        return x.astype(np.float32), labels, np.asarray(numbers)

    def _parse_slowly(self, lines, numbers):
        name, columns = self.name, len(self.header)
        rows = []
        try:
            for row, line in zip(csv.reader(lines), numbers):
                if len(row) != columns:
                    raise DataError(
                        f"{name}: row {line} has {len(row)} values but the "
                        f"header has {columns} columns")
                rows.append(row)
        except csv.Error as e:
            raise DataError(f"cannot parse {self.path!r} as CSV: {e}") \
                from None
        index = self.feature_index
        cells = [[row[i].strip() for i in index] for row in rows]
        x = csv_source._to_numbers(cells, name, numbers, self.feature_names)
        labels = None if self.label_index is None else \
            np.array([row[self.label_index].strip() for row in rows])
        return x, labels, np.asarray(numbers)

    def _scan(self, fraction):
        self.moments = {}
        first_line = {}
        start = 0
        for x, labels, lines in self._raw_chunks():
            rows = np.arange(start, start + len(x), dtype=np.int64)
            start += len(x)
            held = row_held_out(rows, fraction)
            keys = [None] if labels is None else np.unique(labels)
            for key in keys:
                chosen = np.ones(len(x), bool) if key is None else \
                    labels == key
                if key is not None and key not in first_line:
                    first_line[key] = int(lines[np.argmax(chosen)])
                for side in (False, True):
                    part = x[chosen & (held == side)]
                    if len(part):
                        self.moments.setdefault(
                            (key, side), _Moments(self.width)).add(part)
        if start == 0:
            raise DataError(
                f"{self.name} has a header but no data rows: add one row "
                "per example")
        if self.label_index is not None:
            names = sorted(first_line, key=first_line.get)
            codes, self.num_classes = encode_labels(
                np.array(names), f"{self.name}: column "
                f"{self.label_column!r}",
                locate=lambda i: f"row {first_line[names[i]]}")
            self.codes = dict(zip(names, (int(c) for c in codes)))

    def _chunks(self, shuffle, seed):
        del shuffle, seed  # a CSV file is read front to back
        codes = self.codes
        start = 0
        for x, labels, _ in self._raw_chunks():
            rows = np.arange(start, start + len(x), dtype=np.int64)
            start += len(x)
            y = np.full(len(x), -1, np.int64) if labels is None else \
                np.array([codes[v] for v in labels], np.int64)
            yield x, y, rows


class NpyTable(_Table):
    """A memory-mapped `.npy` array read in chunks (no labels)."""

    label_index = None

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise DataError(
                f"cannot read {path!r} as a NumPy .npy array: {reason}") \
                from None
        x, where = self.array, f"{self.name}: array"
        if x.dtype.kind not in "biuf":
            raise DataError(
                f"{where} has dtype {x.dtype}; expected numbers (features)")
        if x.ndim == 0 or len(x) == 0 or x.size == 0:
            raise DataError(
                f"{where} is empty (shape {x.shape}): no examples to train "
                "on")
        if x.ndim > 4:
            raise DataError(
                f"{where} has shape {x.shape}; expected (n, features), "
                "(n, height, width) or (n, height, width, channels)")
        shape = x.shape[1:]
        if x.ndim == 1:
            shape = (1,)
        elif x.ndim == 3:
            shape = shape + (1,)
        self.example_shape = tuple(int(d) for d in shape)
        self.width = math.prod(self.example_shape)
        self.dtype = np.uint8 if x.dtype == np.uint8 else np.float32
        self.codes = {None: -1}

    def _rows(self, start, stop):
        x = np.asarray(self.array[start:stop])
        return x.reshape((len(x),) + self.example_shape).astype(
            self.dtype, copy=False)

    def _scan(self, fraction):
        x = self.array
        self.moments = {}
        low, high = np.inf, -np.inf
        for start in range(0, len(x), CHUNK_ROWS):
            chunk = np.asarray(x[start:start + CHUNK_ROWS])
            if chunk.dtype.kind == "f":
                bad = ~np.isfinite(chunk)
                if np.any(bad):
                    index = tuple(int(i) for i in np.argwhere(bad)[0])
                    index = (index[0] + start,) + index[1:]
                    raise DataError(
                        f"{self.name}: array{list(index)} is {x[index]}: "
                        "remove or replace NaN and infinite values")
            low = min(low, float(chunk.min()))
            high = max(high, float(chunk.max()))
            rows = np.arange(start, start + len(chunk))
            held = row_held_out(rows, fraction)
            flat = chunk.reshape(len(chunk), -1)
            for side in (False, True):
                if np.any(held == side):
                    self.moments.setdefault(
                        (None, side), _Moments(self.width)).add(
                            flat[held == side])
        if x.dtype == np.uint8:
            self.scaling = preprocessing.PIXELS
        elif low >= 0.0 and high <= 1.0:
            self.scaling = preprocessing.IDENTITY
        else:
            self.scaling = preprocessing.STANDARDIZE

    def splits(self, fraction, classes):
        train, validation, prep, data_range = super().splits(
            fraction, classes)
        if prep.offset.shape == (self.width,):
            prep = preprocessing.Preprocessing(
                prep.offset.reshape(self.example_shape),
                prep.scale.reshape(self.example_shape))
        return train, validation, prep, data_range

    def _chunks(self, shuffle, seed):
        n = len(self.array)
        starts = np.arange(0, n, CHUNK_ROWS // 8)
        if shuffle:
            self._epoch = getattr(self, "_epoch", 0) + 1
            starts = np.random.default_rng(
                (seed, self._epoch)).permutation(starts)
        for start in starts:
            stop = min(start + CHUNK_ROWS // 8, n)
            x = self._rows(start, stop)
            yield x, np.full(len(x), -1, np.int64), np.arange(start, stop)
