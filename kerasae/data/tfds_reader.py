"""An image dataset from TensorFlow Datasets, by name.

Any TFDS dataset with an `image` feature works (`mnist`, `fashion_mnist`,
`cifar10`, ...); its `label` feature, when it is a `ClassLabel`, gives
the labels. Its own `train`, `validation` and `test` splits are the
reader's parts, read in the dataset's record order (`shuffle_files=False`),
so an example's key is its index in its split. Images of varying size
need `--image_size`.

When the dataset is not prepared in the data directory TFDS downloads it.
Without a network, TFDS retries its download for minutes before failing,
so we first probe the network for a few seconds and fail fast with a
message that says where prepared data is expected.
"""

import threading
import urllib.error
import urllib.request

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasae.data import preprocessing
from kerasae.data import reader
from kerasae.data.image_folder import resize
from kerasae.errors import DataError

# Most TFDS image datasets download from Google Cloud Storage; reaching it
# means a download can start.
PROBE_URL = "https://storage.googleapis.com"
PROBE_TIMEOUT_SECONDS = 3.0
_EXAMPLES = "e.g. mnist, fashion_mnist, cifar10"


def network_reachable(url=PROBE_URL, timeout=PROBE_TIMEOUT_SECONDS):
    """Whether an HTTP(S) request to `url` gets any answer within `timeout`
    (in a daemon thread: DNS lookups ignore socket timeouts)."""
    answered = []

    def probe():
        request = urllib.request.Request(url, method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            answered.append(True)
        except urllib.error.HTTPError:
            answered.append(True)  # an error status is still an answer
        except (OSError, ValueError):
            answered.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered and answered[0])


def image_shape(name, data_dir=None):
    """The image shape of TFDS dataset `name` from its metadata, without
    reading data or starting TensorFlow's runtime; None if it has no
    image feature.

    Raises:
        DataError: unknown name.
    """
    image = _image_feature(_builder(name, data_dir))
    return None if image is None else tuple(image.shape)


class TfdsDataset(reader.Reader):
    """A TFDS image dataset (see the module docstring)."""

    random_access = False

    def __init__(self, name, data_dir=None, image_size=(), crop=False):
        builder = _builder(name, data_dir)
        image = _image_feature(builder)
        if image is None:
            raise DataError(
                f"TFDS dataset {name!r} has no 'image' feature (features: "
                f"{', '.join(builder.info.features)}): load tabular data "
                "from a .csv or .npz file instead")
        height, width, channels = image.shape
        if None in (height, width) and not image_size:
            raise DataError(
                f"TFDS dataset {name!r} has images of varying size "
                f"{image.shape}: pass --image_size=H,W to resize them")
        if image_size:
            height, width = image_size
        label = builder.info.features["label"] \
            if "label" in builder.info.features else None
        self.has_label = isinstance(label, tfds.features.ClassLabel)
        _prepare(builder, name, data_dir)
        # Under `tfds.testing.mock_data` the split metadata is empty; TFDS's
        # image datasets then have at least "train" and "test".
        names = [s for s in ("train", "validation", "test")
                 if s in (builder.info.splits or ("train", "test"))]
        if "train" not in names:
            raise DataError(
                f"TFDS dataset {name!r} has no 'train' split (splits: "
                f"{', '.join(sorted(builder.info.splits))})")
        self.builder, self.image_size, self.crop = builder, image_size, crop
        self._labels = {}
        self.info = reader.Info(
            name=name, kind=reader.IMAGE,
            shape=(int(height), int(width), int(channels)), dtype=np.uint8,
            parts={s: self._count(s) for s in names},
            num_classes=label.num_classes if self.has_label else 0,
            scaling=preprocessing.PIXELS)

    def _count(self, split):
        if self.builder.info.splits:
            return int(self.builder.info.splits[split].num_examples)
        return len(self._read_labels(split))  # mock data: count them

    def _read_labels(self, split):
        if split not in self._labels:
            ds = self._records(split).map(
                lambda e: e["label"] if self.has_label
                else tf.constant(-1, tf.int64))
            self._labels[split] = np.concatenate(
                [np.zeros(0, np.int64)] + [b.astype(np.int64) for b in
                 ds.batch(65_536).as_numpy_iterator()])
        return self._labels[split]

    def _records(self, split, decode=False):
        # Only the labels: the images stay encoded.
        decoders = None if decode else {
            "image": tfds.decode.SkipDecoding()}
        return self.builder.as_dataset(
            split=split, shuffle_files=False, decoders=decoders,
            read_config=tfds.ReadConfig(try_autocache=False))

    def labels(self, part):
        return self._read_labels(part) if self.has_label else None

    def read_all(self, part, batch_size=10_000):
        if self.image_size:
            return super().read_all(part)
        # TFDS's own batched decode, in the same record order as
        # `examples`: 1.5 times faster than example by example.
        ds = self.builder.as_dataset(
            split=part, shuffle_files=False, batch_size=batch_size,
            read_config=tfds.ReadConfig(try_autocache=False))
        xs, ys = [np.zeros((0,) + self.info.shape, np.uint8)], []
        for batch in tfds.as_numpy(ds):
            xs.append(batch["image"].reshape((-1,) + self.info.shape))
            if self.has_label:
                ys.append(batch["label"].astype(np.int64))
        return np.concatenate(xs), np.concatenate(ys) if ys else None

    def examples(self, part, order=None):
        shape = self.info.shape

        @tf.autograph.experimental.do_not_convert  # no tensor branches
        def pick(index, example):
            x = resize(example["image"], self.image_size, self.crop)
            y = tf.cast(example["label"], tf.int64) if self.has_label \
                else tf.constant(-1, tf.int64)
            return index, tf.ensure_shape(x, shape), y

        return self._records(part, decode=True).enumerate().map(
            pick, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _image_feature(builder):
    features = builder.info.features
    image = features["image"] if "image" in features else None
    return image if isinstance(image, tfds.features.Image) else None


def _builder(name, data_dir):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        pass
    except ValueError as e:
        # TFDS rejects a string that cannot be a dataset name (say
        # "data.csv" or "a b") with a parse error: an unknown dataset.
        if "Parsing builder name" not in str(e):
            raise DataError(_failure(name, e)) from None
    except Exception as e:  # noqa: BLE001 - e.g. an unknown version
        raise DataError(_failure(name, e)) from None
    raise DataError(
        f"unknown dataset {name!r}: not an existing file or folder, and not "
        f"a TFDS dataset ({_EXAMPLES})")


def _failure(name, error):
    return f"cannot load TFDS dataset {name!r}: {reader.first_line(error)}"


def _prepare(builder, name, data_dir):
    if builder.is_prepared():
        return
    if not network_reachable():
        where = data_dir if data_dir is not None else builder.data_dir_root
        raise DataError(
            f"dataset {name!r} is not prepared in {where} and cannot be "
            "downloaded (no network): pass --data_dir=DIR holding prepared "
            "TFDS data, or set TFDS_DATA_DIR")
    builder.download_and_prepare()
