"""Turning the user's labels into class indices.

Models take labels as int64 class indices 0..k-1. Users write them as whole
numbers (`0`, `7`, or `-1` / `1` in anomaly data) or as names (`cat`,
`dog`). Whole numbers >= 0 keep their value; other whole numbers and names
are numbered in sorted order, so the same set of labels always gives the
same indices.
"""

import numpy as np

from kerasae.errors import DataError


def encode_labels(values, where, locate=None):
    """Converts labels to int64 class indices.

    Args:
        values: 1-D array of whole numbers, or of strings (numbers written
            as text, such as a CSV column of `0.0`, `1.0`, count as numbers).
        where: how to name the labels in an error, e.g. `"data.npz: y"`.
        locate: maps an index to where the user finds that label, e.g.
            `row 3` of a CSV file; None says `index 2`.

    Returns:
        `(labels, num_classes)`: int64 array of the same length, and the
        number of classes (max + 1 for whole numbers >= 0, else the
        distinct count).

    Raises:
        DataError: fractional or non-finite numeric labels, non-numeric
            dtypes, or an empty label name.
    """
    locate = locate or (lambda i: f"index {i}")
    values = np.asarray(values)
    if values.dtype.kind in "US":
        values = np.char.strip(values.astype(str))
        empty = np.flatnonzero(values == "")
        if len(empty):
            raise DataError(f"{where}: label at {locate(empty[0])} is empty")
        numbers = _as_numbers(values)
        if numbers is None:
            return _number_in_sorted_order(values)
        values = numbers
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuf":
        raise DataError(
            f"{where}: labels have dtype {values.dtype}; use whole numbers "
            "or strings")
    # A fractional "label" is almost surely a regression target given by
    # mistake; numbering thousands of distinct floats as classes would hide
    # that.
    bad = ~np.isfinite(values) | (values != np.round(values))
    if np.any(bad):
        first = np.flatnonzero(bad)[0]
        raise DataError(
            f"{where}: label {values[first].item()!r} at {locate(first)} "
            "is not a whole number; labels must be whole numbers or names")
    labels = values.astype(np.int64)
    if len(labels) and labels.min() < 0:
        return _number_in_sorted_order(labels)
    return labels, int(labels.max()) + 1 if len(labels) else 0


def _as_numbers(strings):
    try:
        return strings.astype(np.float64)
    except ValueError:
        return None


def _number_in_sorted_order(values):
    classes, labels = np.unique(values, return_inverse=True)
    return labels.astype(np.int64).reshape(-1), len(classes)
