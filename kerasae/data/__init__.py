"""The data layer: any source in, a `DataBundle` in model space out.

Sources are TFDS image datasets by name (`mnist`, `cifar10`, ...) or the
user's own `.npz`/`.npy` arrays, CSV files and folders of images. `load`
reads one, holds out validation data, fits a `Preprocessing` on the training
split and returns float32 splits; `make_dataset` wraps arrays in a fast
`tf.data` pipeline.
"""

from kerasae.data.bundle import DataBundle
from kerasae.data.bundle import Split
from kerasae.data.loader import ARRAYS
from kerasae.data.loader import is_tfds_name
from kerasae.data.loader import load
from kerasae.data.pipeline import make_dataset
from kerasae.data.preprocessing import Preprocessing

__all__ = ["ARRAYS", "DataBundle", "Preprocessing", "Split", "is_tfds_name",
           "load", "make_dataset"]
