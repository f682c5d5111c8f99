"""The reader interface: what a source is, and its raw examples by index.

One reader per source kind (`tfds_reader`, `image_folder`, `tables`)
opens what `--dataset` names and answers two questions, as a Keras data
adapter does:

- `info`: what the data is (name, kind, one example's shape and raw
  dtype, classes, feature names, scaling) and how many examples each of
  its parts holds (`train`, and a TFDS dataset's own `validation` and
  `test`);
- `examples(part, order)`: the raw examples of a part as a `tf.data`
  dataset of `(index, x, y)`, x in its own dtype (uint8 pixels, float32
  features), y an int64 label (-1 without labels). A reader with random
  access (files, arrays) reads them in the order it is given; a
  sequential one (a CSV file, TFDS records) reads its file order and
  leaves the rest to `kerasae.data.split`.

Each example has a stable key (`keys`): the hash of its path inside a
folder, else its index in the part (row, TFDS index). The split rule
(`kerasae.data.splits`) is a function of the keys alone, so every path a
run takes holds out the same examples. No module outside the readers
opens a data file.
"""

import dataclasses
import hashlib
import math
import os
import typing

import numpy as np

from kerasae.errors import DataError

IMAGE = "image"
TABULAR = "tabular"
TRAIN, VALIDATION, TEST = "train", "validation", "test"
NO_LABELS = ("needs labels, but {name} has none (give a label column, a "
             "'y' array, or one subfolder per class)")


@dataclasses.dataclass
class Info:
    """What a reader knows about its source before reading examples.

    Attributes:
        name: what the user calls it (TFDS name, file or folder basename).
        kind: `image` or `tabular`.
        shape: one example's shape, e.g. `(28, 28, 1)` or `(features,)`.
        dtype: the raw examples' NumPy dtype (uint8 or float32).
        parts: example count of each part the source has, in order.
        num_classes: distinct labels (0: no labels).
        scaling: one of `preprocessing.SCALINGS`.
        feature_names: CSV feature columns, () otherwise.
    """

    name: str
    kind: str
    shape: tuple
    dtype: typing.Any
    parts: dict
    num_classes: int
    scaling: str
    feature_names: tuple = ()

    @property
    def has_labels(self):
        return self.num_classes > 0

    def example_bytes(self):
        """Raw bytes of one example."""
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize

    def decoded_megabytes(self):
        """All parts as float32 model-space data, in MB (2**20 bytes)."""
        return sum(self.parts.values()) * math.prod(self.shape) * 4 / 2**20


class Reader:
    """Base class: see the module docstring.

    Attributes:
        info: an `Info`.
        random_access: `examples` reads any order it is given.
        streams: the source can be read in parts (arrays passed from
            Python and `.npz` archives are held whole).
    """

    info: Info
    random_access = True
    streams = True

    def keys(self, part):
        """uint64 stable keys of the part's examples (index by default)."""
        return np.arange(self.info.parts[part], dtype=np.uint64)

    def labels(self, part):
        """int64 labels of the part's examples, or None without labels."""
        raise NotImplementedError

    def examples(self, part, order=None):
        """`(index, x, y)` examples of `part`.

        Args:
            part: a key of `info.parts`.
            order: an int64 `tf.data` dataset of indices to read, in that
                order (random-access readers); None: every example, in
                the part's own order.
        """
        raise NotImplementedError

    def read_all(self, part, batch_size=4096):
        """A part's raw examples read once into memory: `(x, y)` arrays in
        index order (`y` None without labels). What "in memory" caches."""
        xs, ys = [np.zeros((0,) + self.info.shape, self.info.dtype)], []
        for _, x, y in self.examples(part).batch(
                batch_size).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        y = np.concatenate(ys) if ys and self.info.has_labels else None
        return np.concatenate(xs), y


def path_keys(paths):
    """uint64 keys of relative paths: the first 8 bytes of their SHA-1,
    the same on every machine whatever the order a folder lists in."""
    return np.array([int.from_bytes(hashlib.sha1(
        p.replace(os.sep, "/").encode()).digest()[:8], "big")
        for p in paths], dtype=np.uint64)


def first_line(error):
    """The first line of an exception's message (or its type's name)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def no_labels(flag, name):
    """The error for an option that needs labels the data lacks."""
    return DataError(f"{flag} " + NO_LABELS.format(name=name))


def check_classes(classes, present, name, where="training"):
    """Raises unless every class in `classes` is among `present`."""
    absent = [c for c in classes if c not in set(int(p) for p in present)]
    if absent:
        shown = ", ".join(str(int(c)) for c in sorted(set(present))[:20])
        raise DataError(
            f"--train_classes: class {absent[0]} is absent from the {where} "
            f"data of {name} (classes present: {shown})")

