"""Reading a CSV file: a header row, then one example per row.

Every column is a numeric feature except the optional label column, whose
values may be whole numbers or names. Errors point at the cell the way a
user finds it in an editor: the header is line 1, so the first example is
row 2.
"""

import csv
import os

import numpy as np

from kerasae.data import preprocessing
from kerasae.data.bundle import TABULAR
from kerasae.data.bundle import Source
from kerasae.data.bundle import Split
from kerasae.data.labels import encode_labels
from kerasae.errors import DataError


def read_csv(path, label_column=None):
    """Reads a CSV file of numbers with a header row.

    Args:
        path: path to the `.csv` file.
        label_column: name of the column holding labels, or None.

    Returns:
        A `Source` with a train split only; features are float32.

    Raises:
        DataError: empty file, no data rows, ragged rows, a missing label
            column, a cell that is not a finite number.
    """
    name = os.path.basename(path)
    header, rows, lines = read_rows(path, name)
    if label_column is not None and label_column not in header:
        raise DataError(
            f"{name}: no column {label_column!r} for --label_column; the "
            f"columns are: {', '.join(header)}")
    label_index = None if label_column is None else header.index(label_column)
    feature_index = [i for i in range(len(header)) if i != label_index]
    if not feature_index:
        raise DataError(
            f"{name}: the only column is the label {label_column!r}; "
            "there are no features")
    feature_names = tuple(header[i] for i in feature_index)
    cells = [[row[i] for i in feature_index] for row in rows]
    x = _to_numbers(cells, name, lines, feature_names)
    y, num_classes = None, 0
    if label_index is not None:
        labels = np.array([row[label_index] for row in rows])
        y, num_classes = encode_labels(
            labels, f"{name}: column {label_column!r}",
            locate=lambda i: f"row {lines[i]}")
    return Source(
        name=name,
        kind=TABULAR,
        train=Split(x, y),
        scaling=preprocessing.STANDARDIZE,
        num_classes=num_classes,
        feature_names=feature_names,
    )


def read_rows(path, name, has_header=True, unit="example"):
    """Returns the header, the data rows (stripped cells) and their lines.

    Args:
        path: the CSV file.
        name: its name in messages.
        has_header: the first row names the columns; without one they
            are named by position (`0`, `1`, ...).
        unit: what a row is, in messages (`example`, `time step`).

    Raises:
        DataError: unreadable, ragged or empty; one line naming the row.
    """
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs write,
        # which would otherwise end up in the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header, rows, lines = None, [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank line, e.g. a trailing newline
                row = [cell.strip() for cell in row]
                if header is None:
                    header = row if has_header else \
                        [str(i) for i in range(len(row))]
                    if has_header:
                        continue
                if len(row) != len(header):
                    first = f"the header has {len(header)} columns" \
                        if has_header else f"the first row has {len(header)}"
                    raise DataError(
                        f"{name}: row {reader.line_num} has {len(row)} "
                        f"values but {first}")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise DataError(
            f"cannot decode {path!r} as UTF-8 text (byte {e.start}): save "
            "the CSV as UTF-8") from None
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


def _to_numbers(cells, name, lines, columns):
    try:
        x = np.array(cells, dtype=np.float64)
    except ValueError:
        # The fast conversion failed; find the first bad cell to name it.
        for row, line in zip(cells, lines):
            for cell, column in zip(row, columns):
                _check_number(cell, name, line, column)
        raise  # unreachable unless numpy and float() disagree
    bad = ~np.isfinite(x)
    if np.any(bad):
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{name}: row {lines[r]}, column {columns[c]!r}: "
            f"{cells[r][c]!r} is not a finite number; remove or replace "
            "NaN and infinite values")
    # Values beyond float32's range turn into inf in model space.
    too_big = np.abs(x) > np.finfo(np.float32).max
    if np.any(too_big):
        r, c = np.argwhere(too_big)[0]
        raise DataError(
            f"{name}: row {lines[r]}, column {columns[c]!r}: "
            f"{cells[r][c]!r} is too large for float32")
    return x.astype(np.float32)


def _check_number(cell, name, line, column):
    if not cell:
        raise DataError(
            f"{name}: row {line}, column {column!r} is empty; fill in a "
            "number")
    try:
        float(cell)
    except ValueError:
        raise DataError(
            f"{name}: row {line}, column {column!r}: {cell!r} is not a "
            "number") from None
