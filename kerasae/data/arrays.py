"""Reading the user's NumPy files: `.npz` (features `x`, labels `y`) and `.npy`.

Shapes decide the kind: `(n, features)` is tabular, `(n, h, w)` and
`(n, h, w, c)` are images (a channel axis is added to `(n, h, w)` so conv
models see `(h, w, 1)`). Values decide the scaling (see
`preprocessing.scaling_for_array`).
"""

import os
import zipfile

import numpy as np

from kerasae.data import preprocessing
from kerasae.data.bundle import IMAGE
from kerasae.data.bundle import TABULAR
from kerasae.data.bundle import Source
from kerasae.data.bundle import Split
from kerasae.data.labels import encode_labels
from kerasae.errors import DataError


def read_npz(path):
    """Reads features `x` and optional labels `y` from an `.npz` file.

    An archive with a single array and no `x` key is read as features.

    Args:
        path: path to the `.npz` file.

    Returns:
        A `Source` with a train split only.

    Raises:
        DataError: unreadable file, no usable array, bad values or shapes.
    """
    name = os.path.basename(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(
            f"cannot read {path!r} as a NumPy .npz archive: {_first_line(e)}"
        ) from None
    if "x" in arrays:
        x_key = "x"
    elif len(arrays) == 1:
        x_key = next(iter(arrays))
    elif not arrays:
        raise DataError(f"{name} holds no arrays: save features as 'x'")
    else:
        raise DataError(
            f"{name} holds arrays {', '.join(sorted(arrays))} but none named "
            "'x': save features as 'x' (and labels as 'y')")
    return _source(name, arrays[x_key], arrays.get("y"), f"{name}: {x_key}")


def read_npy(path):
    """Reads features (no labels) from an `.npy` file.

    Args:
        path: path to the `.npy` file.

    Returns:
        A `Source` with a train split only.

    Raises:
        DataError: unreadable file, bad values or shapes.
    """
    name = os.path.basename(path)
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(
            f"cannot read {path!r} as a NumPy .npy array: {_first_line(e)}"
        ) from None
    return _source(name, x, None, f"{name}: array")


def _source(name, x, y, where):
    x = _check_features(x, where)
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{name}: y has shape {y.shape} but x holds {len(x)} "
                f"examples: give one label per example, shape ({len(x)},)")
        y, num_classes = encode_labels(y, f"{name}: y")
    else:
        num_classes = 0
    return Source(
        name=name,
        kind=TABULAR if x.ndim == 2 else IMAGE,
        train=Split(x, y),
        scaling=preprocessing.scaling_for_array(x),
        num_classes=num_classes,
    )


def _check_features(x, where):
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
        bad = ~np.isfinite(x)
        if np.any(bad):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"{where}{list(index)} is {x[index]}: remove or replace "
                "NaN and infinite values")
    if x.dtype == np.bool_:
        x = x.astype(np.float32)
    if x.ndim == 1:
        # n scalars are n examples of one feature.
        x = x[:, None]
    elif x.ndim == 3:
        x = x[..., None]
    return x


def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def from_memory(data):
    """Features and labels from data a Python caller already holds.

    Args:
        data: an array of examples, an `(x, y)` pair of arrays, or a
            batched `tf.data.Dataset` of examples or `(x, y)` pairs (as
            `keras.Model.fit` takes it; it is read once, into memory).

    Returns:
        `(x, y)` NumPy arrays; `y` is None without labels.

    Raises:
        DataError: the data is not one of those forms.
    """
    if type(data).__module__.startswith("tensorflow") and \
            hasattr(data, "as_numpy_iterator"):
        xs, ys = [], []
        for element in data.as_numpy_iterator():
            if isinstance(element, (tuple, list)):
                xs.append(element[0])
                ys.append(element[1] if len(element) > 1 else None)
            else:
                xs.append(element)
                ys.append(None)
        if not xs:
            raise DataError("data: the tf.data.Dataset yields no examples")
        labelled = [y is not None for y in ys]
        if any(labelled) and not all(labelled):
            raise DataError("data: some elements of the dataset have labels "
                            "and some have none")
        x = np.concatenate(xs)
        y = np.concatenate(ys) if all(labelled) else None
        return x, y
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise DataError(
                f"data: a {type(data).__name__} of {len(data)} items; give "
                "x, or a pair (x, y)")
        return np.asarray(data[0]), (None if data[1] is None
                                     else np.asarray(data[1]))
    return np.asarray(data), None


def memory_source(x, y=None):
    """A `Source` of arrays held in memory (`from_memory`'s output).

    They are scaled as `.npz` files are: uint8 by 1/255, floats in [0, 1]
    kept, anything else standardized.

    Raises:
        DataError: bad values or shapes, as for `.npz` files.
    """
    return _source("arrays", x, y, "data: x")
