"""Turning the user's labels into class indices.

Models take labels as int64 class indices 0..k-1. Users write them as whole
numbers (`0`, `7`) or as names (`cat`, `dog`); names are numbered in sorted
order, so the same set of names always gives the same indices.
"""

import numpy as np

from kerasae.errors import DataError


def encode_labels(values, where):
    """Converts labels to int64 class indices.

    Args:
        values: 1-D array of whole numbers >= 0, or of strings.
        where: how to name the labels in an error, e.g. `"data.npz: y"`.

    Returns:
        `(labels, num_classes)`: int64 array of the same length, and the
        number of classes (max + 1 for numbers, the distinct count for
        names).

    Raises:
        DataError: numeric labels that are negative, fractional or not
            finite; or an empty label name.
    """
    values = np.asarray(values)
    if values.dtype.kind in "US":
        return _encode_strings(values, where)
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuf":
        raise DataError(
            f"{where}: labels have dtype {values.dtype}; use whole numbers "
            "or strings")
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if np.any(bad):
        first = np.flatnonzero(bad)[0]
        raise DataError(
            f"{where}: label {values[first]!r} at index {first} is not a "
            "whole number >= 0")
    labels = values.astype(np.int64)
    return labels, int(labels.max()) + 1 if len(labels) else 0


def _encode_strings(values, where):
    values = np.char.strip(values.astype(str))
    empty = np.flatnonzero(values == "")
    if len(empty):
        raise DataError(f"{where}: label at index {empty[0]} is empty")
    # Names that are all whole numbers ("0", "7") keep their value, so a
    # CSV label column of digits means the same as an integer array would.
    if all(v.isascii() and v.isdigit() for v in values):
        labels = values.astype(np.int64)
        return labels, int(labels.max()) + 1
    names, labels = np.unique(values, return_inverse=True)
    return labels.astype(np.int64).reshape(-1), len(names)
