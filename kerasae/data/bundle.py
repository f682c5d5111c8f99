"""Containers passed from the data layer to models and training.

A reader turns one source (a TFDS name, an array file, a CSV file, an image
folder) into a `Source`: raw arrays, still in the units of the file. The
loader then holds out validation data, filters classes, fits the
`Preprocessing` and returns a `DataBundle` whose splits are float32 in model
space.
"""

import dataclasses
import typing

import numpy as np

from kerasae.data.preprocessing import Preprocessing

IMAGE = "image"
TABULAR = "tabular"


@dataclasses.dataclass(eq=False)
class Split:
    """Examples of one split.

    Attributes:
        x: examples, shape `(n, *input_shape)`; float32 in model space inside
            a `DataBundle`, raw units inside a `Source`.
        y: int64 labels of shape `(n,)`, or None when there are none.
    """

    x: np.ndarray
    y: typing.Optional[np.ndarray] = None

    def __len__(self):
        return len(self.x)

    def take(self, indices):
        """Returns the examples at `indices` (an index array or mask)."""
        return Split(self.x[indices],
                     None if self.y is None else self.y[indices])


@dataclasses.dataclass(eq=False)
class Source:
    """Raw arrays read from one source, before splitting and scaling.

    Attributes:
        name: what the user calls it: the TFDS name or the file's basename.
        kind: `image` or `tabular`.
        train: the training examples.
        validation: the source's own validation split, or None.
        test: the source's test split, or None.
        scaling: how to map raw values to model space, one of
            `preprocessing.SCALINGS`.
        num_classes: number of distinct labels (0: no labels).
        feature_names: CSV feature column names, () otherwise.
    """

    name: str
    kind: str
    train: Split
    scaling: str
    validation: typing.Optional[Split] = None
    test: typing.Optional[Split] = None
    num_classes: int = 0
    feature_names: tuple = ()


@dataclasses.dataclass(eq=False)
class DataBundle:
    """Everything the model and training loop need to know about the data.

    Attributes:
        name: e.g. `mnist`, or the basename of the user's file or folder.
        kind: `image` or `tabular`.
        train: training examples, float32 in model space.
        validation: validation examples (held out from train when the source
            has no validation split).
        test: test examples, or None when the source has no test split.
        input_shape: shape of one example, e.g. `(28, 28, 1)` or
            `(n_features,)`.
        preprocessing: the raw -> model-space map.
        unit_range: True when model-space data lies in [0, 1].
        data_range: `(min, max)` of `train.x` in model space.
        num_classes: number of labels, 0 when there are none.
        feature_names: CSV feature column names, () otherwise.
        binarize: `none` (grey-level), `static` or `dynamic`
            (`kerasae.data.binarize`).
    """

    name: str
    kind: str
    train: Split
    validation: Split
    test: typing.Optional[Split]
    input_shape: tuple
    preprocessing: Preprocessing
    unit_range: bool
    data_range: tuple
    num_classes: int
    feature_names: tuple = ()
    binarize: str = "none"

    @property
    def eval_split(self):
        """The split to report final metrics on: test if present."""
        return self.test if self.test is not None else self.validation

    @property
    def eval_split_name(self):
        """`test` or `validation`, naming `eval_split`."""
        return "test" if self.test is not None else "validation"
