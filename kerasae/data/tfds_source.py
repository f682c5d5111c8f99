"""Loading an image dataset from TensorFlow Datasets by name.

Any TFDS dataset with an `image` feature of fixed shape works (`mnist`,
`fashion_mnist`, `cifar10`, ...); its `label` feature, when it is a
`ClassLabel`, gives the labels. Splits `train`, `validation` and `test` are
used when present.

When the dataset is not prepared in the data directory TFDS downloads it.
Without a network, TFDS retries its download for minutes before failing, so
we first probe the network for a few seconds and fail fast with a message
that says where prepared data is expected.
"""

import threading
import urllib.error
import urllib.request

import numpy as np
import tensorflow_datasets as tfds

from kerasae.data import preprocessing
from kerasae.data.bundle import IMAGE
from kerasae.data.bundle import Source
from kerasae.data.bundle import Split
from kerasae.errors import DataError

# Most TFDS image datasets (mnist, fashion_mnist, cifar10, ...) download
# from Google Cloud Storage; reaching it means a download can start.
PROBE_URL = "https://storage.googleapis.com"
PROBE_TIMEOUT_SECONDS = 3.0
# Examples per batch when TFDS does not know a split's size (e.g. under
# `tfds.testing.mock_data`): `batch_size=-1` would then ask tf.data for a
# batch of sys.maxsize, which aborts the process.
_CHUNK = 10_000
_EXAMPLES = "e.g. mnist, fashion_mnist, cifar10"


def network_reachable(url=PROBE_URL, timeout=PROBE_TIMEOUT_SECONDS):
    """Whether an HTTP(S) request to `url` gets any answer within `timeout`.

    urllib honours the `HTTPS_PROXY` settings TFDS's downloader also uses.
    The request runs in a daemon thread because DNS lookups ignore socket
    timeouts and can hang far longer than `timeout`.

    Args:
        url: address to send a HEAD request to.
        timeout: seconds to wait at most.

    Returns:
        True if a server answered (any HTTP status), False otherwise.
    """
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


def read_tfds(name, data_dir=None):
    """Loads a TFDS image dataset into NumPy arrays.

    Args:
        name: TFDS name, optionally with config and version
            (`mnist:3.*.*`).
        data_dir: TFDS data directory; None uses TFDS's default, which
            honours `TFDS_DATA_DIR`.

    Returns:
        A `Source` with the dataset's train split and, when present, its
        validation and test splits; uint8 pixels.

    Raises:
        DataError: unknown name, no image feature, images of varying shape,
            no train split, or not prepared and no network to download it.
    """
    builder = _builder(name, data_dir)
    features = builder.info.features
    image = _image_feature(builder)
    if image is None:
        raise DataError(
            f"TFDS dataset {name!r} has no 'image' feature (features: "
            f"{', '.join(features)}): load tabular data from a .csv or "
            ".npz file instead")
    if None in image.shape:
        raise DataError(
            f"TFDS dataset {name!r} has images of varying size "
            f"{image.shape}: kerasae needs one size; resize them and pass "
            "them as a .npz file")
    label = features["label"] if "label" in features else None
    if not isinstance(label, tfds.features.ClassLabel):
        label = None
    _prepare(builder, name, data_dir)
    # Under `tfds.testing.mock_data` the split metadata is empty; TFDS's
    # image datasets then have at least "train" and "test".
    splits = set(builder.info.splits) or {"train", "test"}
    if "train" not in splits:
        raise DataError(
            f"TFDS dataset {name!r} has no 'train' split (splits: "
            f"{', '.join(sorted(splits))})")

    def read(split):
        if split not in splits:
            return None
        return _read_split(builder, split, label is not None)

    train = read("train")
    return Source(
        name=name,
        kind=IMAGE,
        train=train,
        validation=read("validation"),
        test=read("test"),
        scaling=preprocessing.scaling_for_array(train.x),
        num_classes=0 if label is None else label.num_classes,
    )


def image_shape(name, data_dir=None):
    """The image shape of TFDS dataset `name` from its metadata, without
    reading (or downloading) data or starting TensorFlow's runtime; None
    if it has no image feature.

    Raises:
        DataError: unknown name.
    """
    image = _image_feature(_builder(name, data_dir))
    return None if image is None else tuple(image.shape)


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
        # "data.csv" or "a b") with a parse error: also an unknown dataset.
        if "Parsing builder name" not in str(e):
            raise DataError(_tfds_failure(name, e)) from None
    except Exception as e:  # noqa: BLE001 - e.g. an unknown version
        raise DataError(_tfds_failure(name, e)) from None
    raise DataError(
        f"unknown dataset {name!r}: not an existing file or folder, and not "
        f"a TFDS dataset ({_EXAMPLES})")


def _tfds_failure(name, error):
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"cannot load TFDS dataset {name!r}: {reason}"


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


def _read_split(builder, split, with_labels):
    size = builder.info.splits[split].num_examples if builder.info.splits \
        else 0
    # Decoding straight into one batch of the split's size is TFDS's
    # batch_size=-1 path; autocache would only keep a second copy in memory.
    ds = builder.as_dataset(
        split=split,
        batch_size=size or _CHUNK,
        shuffle_files=False,
        read_config=tfds.ReadConfig(try_autocache=False),
    )
    images, labels = [], []
    for batch in tfds.as_numpy(ds):
        images.append(batch["image"])
        if with_labels:
            labels.append(batch["label"])
    if not images:
        raise DataError(
            f"TFDS dataset {builder.name!r}: split {split!r} is empty")
    x = np.concatenate(images)
    y = np.concatenate(labels).astype(np.int64) if with_labels else None
    return Split(x, y)
