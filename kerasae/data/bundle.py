"""`DataBundle`: the splits of a run's data and what models need to know.

`kerasae.data.load` returns one. Its splits are `kerasae.data.Split`s in
model space, held in memory or streamed (`data_path` says which); a
consumer asks them for batches or a bounded sample and never needs to
know which.
"""

import dataclasses
import math
import typing

import numpy as np

from kerasae.data.preprocessing import Moments
from kerasae.data.preprocessing import Preprocessing
from kerasae.data.reader import IMAGE  # noqa: F401 - the kinds, here too
from kerasae.data.reader import TABULAR  # noqa: F401
from kerasae.data.split import Split

# Examples a streamed run evaluates, calibrates and plots on, and at most
# this many float32 bytes per split (5,461 64x64 RGB images).
DEFAULT_SAMPLE = 10_000
_SAMPLE_BYTES = 256 * 2**20


@dataclasses.dataclass(eq=False)
class DataBundle:
    """Everything the model and training loop need to know about the data.

    Attributes:
        name: e.g. `mnist`, or the basename of the user's file or folder.
        kind: `image`, `tabular` or `series`.
        train: training examples.
        validation: validation examples (held out from train when the
            source has no validation split).
        test: test examples, or None when there is no test split.
        input_shape: shape of one example, e.g. `(28, 28, 1)`.
        preprocessing: the raw -> model-space map.
        unit_range: True when model-space data lies in [0, 1].
        data_range: `(min, max)` of the training data in model space.
        num_classes: number of labels, 0 when there are none.
        feature_names: CSV feature column names, () otherwise.
        binarize: `none`, `static` or `dynamic` (`kerasae.data.binarize`).
        data_path: `memory` or `stream`: how the splits hold examples.
        sampled: examples per split of a bounded sample (`sample`), or
            None for the whole data.
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
    data_path: str = "memory"
    sampled: typing.Optional[int] = None

    @property
    def eval_split(self):
        """The split to report final metrics on: test if present."""
        return self.test if self.test is not None else self.validation

    @property
    def eval_split_name(self):
        """`test` or `validation`, naming `eval_split`."""
        return "test" if self.test is not None else "validation"

    def sample(self, count=DEFAULT_SAMPLE):
        """The bundle with every split in memory: a streamed split gives
        at most `count` examples (and at most 256 MB of float32), the same
        ones every time; `sampled` then says how many."""
        if self.data_path != "stream":
            return self
        width = math.prod(self.input_shape) * 4
        count = max(1, min(count, max(1000, _SAMPLE_BYTES // width)))
        return dataclasses.replace(
            self, train=self.train.sample(count),
            validation=self.validation.sample(count),
            test=None if self.test is None else self.test.sample(count),
            data_path="memory", sampled=count)

    def train_mean(self, batch_size=4096):
        """The training examples' mean per element, in model space (one
        pass over a streamed split)."""
        if not self.train.is_streamed:
            x = np.asarray(self.train.x, np.float64)
            return x.mean(axis=0)
        grey = self.train._streamed_dataset(  # no dynamic binarizer
            batch_size, False, False, 0, False, False, None, None)
        return Moments.of(grey.as_numpy_iterator()).mean
