"""The data layer: any source in, a `DataBundle` of model-space splits out.

One reader per source kind (`tfds_reader`, `image_folder`, `tables`,
`series`) says what the data is and yields raw examples by key; one split
rule (`splits`), one preprocessing fit (`preprocessing`) and one split
type (`Split`, in memory or streamed) make batches of any of them.
`docs/data.md` tells the whole way.
"""

from kerasae.data.bundle import DataBundle
from kerasae.data.loader import ARRAYS
from kerasae.data.loader import is_tfds_name
from kerasae.data.loader import load
from kerasae.data.loader import open_source
from kerasae.data.pipeline import make_dataset
from kerasae.data.preprocessing import Preprocessing
from kerasae.data.split import Split

__all__ = ["ARRAYS", "DataBundle", "Preprocessing", "Split", "is_tfds_name",
           "load", "make_dataset", "open_source"]
