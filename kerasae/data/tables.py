"""Tables: CSV files, `.npy`/`.npz` arrays and arrays held in memory.

A CSV file has a header row, then one example per row; every column is a
numeric feature except the optional label column (whole numbers or
names). It is read in chunks of `CHUNK_ROWS` rows: one pass when it is
opened checks every cell (errors name the row and column the way an
editor shows them: the header is line 1), counts the rows and numbers the
labels; the pipeline then reads it front to back.

An array is `(n, features)` (tabular) or `(n, h, w[, c])` (images; a
channel axis is added). A `.npy` file is memory-mapped and read at any
rows; a `.npz` archive (features `x`, labels `y`) and arrays passed from
Python are held whole. Values decide the scaling: uint8 are pixels,
floats within [0, 1] are kept, anything else is standardized. A row's
key is its index.
"""

import csv
import math
import os
import zipfile

import numpy as np
import tensorflow as tf

from kerasae.data import preprocessing
from kerasae.data import reader
from kerasae.data.labels import encode_labels
from kerasae.errors import DataError

CHUNK_ROWS = 32_768
_NAN = "remove or replace NaN and infinite values"


class CsvTable(reader.Reader):
    """A CSV file of examples (see the module docstring)."""

    random_access = False

    def __init__(self, path, label_column=None):
        self.path = path
        name = os.path.basename(path)
        header = self._header(name)
        if label_column is not None and label_column not in header:
            raise DataError(
                f"{name}: no column {label_column!r} for --label_column; the "
                f"columns are: {', '.join(header)}")
        self.header = header
        self.label_index = None if label_column is None else \
            header.index(label_column)
        self.feature_index = [i for i in range(len(header))
                              if i != self.label_index]
        if not self.feature_index:
            raise DataError(
                f"{name}: the only column is the label {label_column!r}; "
                "there are no features")
        names = tuple(header[i] for i in self.feature_index)
        self.info = reader.Info(
            name=name, kind=reader.TABULAR, shape=(len(names),),
            dtype=np.float32, parts={}, num_classes=0,
            scaling=preprocessing.STANDARDIZE, feature_names=names)
        self._scan(label_column)

    def _open(self):
        # utf-8-sig drops a spreadsheet's byte-order mark.
        return open(self.path, newline="", encoding="utf-8-sig")

    def _header(self, name):
        with self._decoding():
            with self._open() as f:
                for row in csv.reader(f):
                    if any(cell.strip() for cell in row):
                        return [cell.strip() for cell in row]
        raise DataError(
            f"{name} is empty: expected a header row, then one row of "
            "numbers per example")

    def _decoding(self):
        return _Decoding(self.path)

    def _scan(self, label_column):
        """Checks every cell, counts rows, numbers the labels."""
        first_row, provisional, count = {}, [], 0
        for x, labels, lines in self._chunks():
            count += len(x)
            if labels is not None:
                names, inverse = np.unique(labels, return_inverse=True)
                for k, value in enumerate(names):
                    first_row.setdefault(value, int(lines[np.argmax(
                        inverse == k)]))
                provisional.append((names, inverse))
        if count == 0:
            raise DataError(f"{self.info.name} has a header but no data "
                            "rows: add one row per example")
        self.info.parts = {reader.TRAIN: count}
        self._labels = None
        if self.label_index is None:
            return
        names = sorted(first_row, key=first_row.get)
        codes, self.info.num_classes = encode_labels(
            np.array(names), f"{self.info.name}: column {label_column!r}",
            locate=lambda i: f"row {first_row[names[i]]}")
        self.codes = dict(zip(names, (int(c) for c in codes)))
        self._labels = np.concatenate([
            np.array([self.codes[v] for v in chunk_names], np.int64)[inv]
            for chunk_names, inv in provisional])

    def labels(self, part):
        return self._labels

    def _chunks(self):
        """Yields `(x, label strings or None, line numbers)` per chunk."""
        with self._decoding():
            with self._open() as f:
                header_seen, lines, numbers = False, [], []
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

    def _parse(self, lines, numbers):
        """NumPy's C parser reads a chunk about 7 times faster than the
        `csv` module; a chunk it refuses is read again cell by cell, which
        names the row and column of the bad cell."""
        x = None
        commas = np.char.count(np.array(lines), ",")
        if np.all(commas == len(self.header) - 1):
            try:
                x = np.loadtxt(lines, delimiter=",", dtype=np.float64,
                               ndmin=2, quotechar='"', comments=None,
                               usecols=self.feature_index)
            except ValueError:
                pass
        if x is None or len(x) != len(lines) or not np.all(np.isfinite(x)) \
                or np.any(np.abs(x) > np.finfo(np.float32).max):
            return self._parse_slowly(lines, numbers)
        labels = None
        if self.label_index is not None:
            labels = np.char.strip(np.loadtxt(
                lines, delimiter=",", dtype=str, ndmin=1, quotechar='"',
                usecols=self.label_index, comments=None))
        return x.astype(np.float32), labels, np.asarray(numbers)

    def _parse_slowly(self, lines, numbers):
        name, columns = self.info.name, len(self.header)
        rows = []
        try:
            for row, line in zip(csv.reader(lines), numbers):
                if len(row) != columns:
                    raise DataError(
                        f"{name}: row {line} has {len(row)} values but the "
                        f"header has {columns} columns")
                rows.append([cell.strip() for cell in row])
        except csv.Error as e:
            raise DataError(f"cannot parse {self.path!r} as CSV: {e}") \
                from None
        x = to_numbers([[row[i] for i in self.feature_index] for row in rows],
                       name, numbers, self.info.feature_names)
        labels = None if self.label_index is None else \
            np.array([row[self.label_index] for row in rows])
        return x, labels, np.asarray(numbers)

    def examples(self, part, order=None):
        labels = self._labels

        def chunks():
            start = 0
            for x, _, _ in self._chunks():
                index = np.arange(start, start + len(x), dtype=np.int64)
                start += len(x)
                y = np.full(len(x), -1, np.int64) if labels is None else \
                    labels[index]
                yield index, x, y

        width = self.info.shape[0]
        return tf.data.Dataset.from_generator(chunks, output_signature=(
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None, width), tf.float32),
            tf.TensorSpec((None,), tf.int64))).unbatch()


class _Decoding:
    """Turns a `UnicodeDecodeError` while reading into a `DataError`."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, UnicodeDecodeError):
            raise DataError(
                f"cannot decode {self.path!r} as UTF-8 text (byte "
                f"{error.start}): save the CSV as UTF-8") from None
        return False


class ArrayTable(reader.Reader):
    """Features `x` and optional labels `y` (see the module docstring)."""

    def __init__(self, name, x, y=None, where=None):
        where = where or f"{name}: x"
        x = _checked(x, name, where)
        self.x = x
        self.streams = isinstance(x, np.memmap)
        shape = x.shape[1:] if x.ndim in (2, 4) else \
            (x.shape[1:] + (1,) if x.ndim == 3 else (1,))
        self._labels, num_classes = None, 0
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1 or len(y) != len(x):
                raise DataError(
                    f"{name}: y has shape {y.shape} but x holds {len(x)} "
                    f"examples: give one label per example, shape "
                    f"({len(x)},)")
            self._labels, num_classes = encode_labels(y, f"{name}: y")
        self.info = reader.Info(
            name=name, kind=reader.TABULAR if len(shape) == 1 else
            reader.IMAGE, shape=tuple(int(d) for d in shape),
            dtype=np.uint8 if x.dtype == np.uint8 else np.float32,
            parts={reader.TRAIN: len(x)}, num_classes=num_classes,
            scaling=_scaling(x))

    def labels(self, part):
        return self._labels

    def read_all(self, part):
        """The arrays themselves: nothing to decode."""
        x = np.asarray(self.x).astype(self.info.dtype, copy=False)
        return x.reshape((len(x),) + self.info.shape), self._labels

    def rows(self, index):
        """The raw examples at `index` (an index array), as NumPy."""
        x = np.asarray(self.x[np.sort(index)] if isinstance(
            self.x, np.memmap) else self.x[index])
        if isinstance(self.x, np.memmap):  # read in file order, then put
            x = x[np.argsort(np.argsort(index))]  # back in the asked order
        return x.reshape((len(x),) + self.info.shape).astype(
            self.info.dtype, copy=False)

    def examples(self, part, order=None):
        n = len(self.x)
        order = tf.data.Dataset.range(n) if order is None else order
        labels = self._labels if self._labels is not None else \
            np.full(n, -1, np.int64)
        dtype = tf.as_dtype(self.info.dtype)

        def take(index):
            x = tf.numpy_function(lambda i: self.rows(i), [index], dtype)
            x = tf.ensure_shape(x, (None,) + self.info.shape)
            return index, x, tf.gather(labels, index)

        return order.batch(256).map(take).unbatch()


def read_npz(path):
    """An `ArrayTable` of a `.npz` archive (`x`, and labels `y`)."""
    name = os.path.basename(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"cannot read {path!r} as a NumPy .npz archive: "
                        f"{reader.first_line(e)}") from None
    if "x" in arrays:
        key = "x"
    elif len(arrays) == 1:
        key = next(iter(arrays))
    elif not arrays:
        raise DataError(f"{name} holds no arrays: save features as 'x'")
    else:
        raise DataError(
            f"{name} holds arrays {', '.join(sorted(arrays))} but none named "
            "'x': save features as 'x' (and labels as 'y')")
    return ArrayTable(name, arrays[key], arrays.get("y"), f"{name}: {key}")


def read_npy(path):
    """An `ArrayTable` of a memory-mapped `.npy` file (no labels)."""
    name = os.path.basename(path)
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read {path!r} as a NumPy .npy array: "
                        f"{reader.first_line(e)}") from None
    return ArrayTable(name, x, None, f"{name}: array")


def _checked(x, name, where):
    if not isinstance(x, np.memmap):
        x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{where} has dtype {x.dtype}; expected numbers (features)")
    if x.ndim == 0 or len(x) == 0:
        raise DataError(
            f"{where} is empty (shape {x.shape}): no examples to train on")
    if x.ndim > 4:
        raise DataError(
            f"{where} has shape {x.shape}; expected (n, features), "
            "(n, height, width) or (n, height, width, channels)")
    if x.size == 0:
        raise DataError(f"{where} has shape {x.shape}: examples hold no "
                        "values")
    if x.dtype.kind == "f":
        step = max(1, CHUNK_ROWS * 64 // max(1, math.prod(x.shape[1:])))
        for start in range(0, len(x), step):
            bad = ~np.isfinite(np.asarray(x[start:start + step]))
            if np.any(bad):
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                index = (index[0] + start,) + index[1:]
                raise DataError(f"{where}{list(index)} is {x[index]}: {_NAN}")
    if x.dtype == np.bool_:
        x = x.astype(np.float32)
    return x


def _scaling(x):
    """From the whole array, so the choice never depends on the seed."""
    if x.dtype == np.uint8:
        return preprocessing.PIXELS
    step = max(1, CHUNK_ROWS * 64 // max(1, math.prod(x.shape[1:])))
    low, high = np.inf, -np.inf
    for start in range(0, len(x), step):
        chunk = np.asarray(x[start:start + step])
        low, high = min(low, float(chunk.min())), max(high,
                                                      float(chunk.max()))
    if low >= 0.0 and high <= 1.0:
        return preprocessing.IDENTITY
    return preprocessing.STANDARDIZE


def read_rows(path, name, has_header=True, unit="example"):
    """A small CSV file whole: the header, the rows (stripped cells) and
    their line numbers; without a header, columns are named `0, 1, ...`.
    `unit` says what a row is in messages (`time step`).

    Raises:
        DataError: unreadable, ragged or empty; one line naming the row.
    """
    with _Decoding(path):
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows_in = csv.reader(f)
                header, rows, lines = None, [], []
                for row in rows_in:
                    if not any(cell.strip() for cell in row):
                        continue
                    row = [cell.strip() for cell in row]
                    if header is None:
                        header = row if has_header else \
                            [str(i) for i in range(len(row))]
                        if has_header:
                            continue
                    if len(row) != len(header):
                        first = f"the header has {len(header)} columns" \
                            if has_header else \
                            f"the first row has {len(header)}"
                        raise DataError(
                            f"{name}: row {rows_in.line_num} has {len(row)} "
                            f"values but {first}")
                    rows.append(row)
                    lines.append(rows_in.line_num)
        except csv.Error as e:
            raise DataError(f"cannot parse {path!r} as CSV: {e}") from None
    if header is None:
        raise DataError(
            f"{name} is empty: expected a header row, then one row of "
            f"numbers per {unit}" if has_header else
            f"{name} holds no data rows: add one row per {unit}")
    if not rows:
        raise DataError(
            f"{name} has a header but no data rows: add one row per {unit}")
    return header, rows, lines


def to_numbers(cells, name, lines, columns):
    """float32 of a table of cells; a bad cell is named by row and column.

    Raises:
        DataError: an empty, non-numeric, non-finite or too large cell.
    """
    try:
        x = np.array(cells, dtype=np.float64)
    except ValueError:
        for row, line in zip(cells, lines):
            for cell, column in zip(row, columns):
                where = f"{name}: row {line}, column {column!r}"
                if not cell:
                    raise DataError(f"{where} is empty; fill in a number")
                try:
                    float(cell)
                except ValueError:
                    raise DataError(
                        f"{where}: {cell!r} is not a number") from None
        raise
    for bad, why in ((~np.isfinite(x), f"is not a finite number; {_NAN}"),
                     (np.abs(x) > np.finfo(np.float32).max,
                      "is too large for float32")):
        if np.any(bad):
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{name}: row {lines[r]}, column "
                            f"{columns[c]!r}: {cells[r][c]!r} {why}")
    return x.astype(np.float32)


def from_memory(data):
    """An `ArrayTable` of data a Python caller holds, and its arrays.

    Args:
        data: an array of examples, an `(x, y)` pair of arrays, or a
            batched `tf.data.Dataset` of examples or `(x, y)` pairs (as
            `keras.Model.fit` takes it; it is read once, into memory).

    Returns:
        `(table, (x, y))`; `y` is None without labels.

    Raises:
        DataError: the data is not one of those forms, or bad values.
    """
    if isinstance(data, tf.data.Dataset):
        xs, ys = [], []
        for element in data.as_numpy_iterator():
            pair = isinstance(element, (tuple, list))
            xs.append(element[0] if pair else element)
            ys.append(element[1] if pair and len(element) > 1 else None)
        if not xs:
            raise DataError("data: the tf.data.Dataset yields no examples")
        labelled = [y is not None for y in ys]
        if any(labelled) and not all(labelled):
            raise DataError("data: some elements of the dataset have labels "
                            "and some have none")
        x, y = np.concatenate(xs), \
            (np.concatenate(ys) if all(labelled) else None)
    elif isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise DataError(
                f"data: a {type(data).__name__} of {len(data)} items; give "
                "x, or a pair (x, y)")
        x, y = np.asarray(data[0]), (None if data[1] is None
                                     else np.asarray(data[1]))
    else:
        x, y = np.asarray(data), None
    return ArrayTable("arrays", x, y, "data: x"), (x, y)
