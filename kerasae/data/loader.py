"""`load`: from a `DataConfig` to a `DataBundle`, on one pipeline.

`open_source` picks the reader `--dataset` names: an existing file or
folder (the user's own data), else a TFDS dataset. Then, the same way
for every source:

1. the split rule picks each split's examples by key
   (`kerasae.data.splits`);
2. the path: `memory` when the decoded data (all parts as float32) fits
   `--in_memory_limit_mb` (or `--data_path=memory`), `stream` above it
   (or `--data_path=stream`); memory is a cache, the reader's pipeline
   read once;
3. one preprocessing fit on the training split (pixels are divided by
   255; tables standardized by their exact moments, one pass);
4. `--binarize` and `--test_dataset`, the same on both paths.

A series (`--window`) is read by `kerasae.data.series`.
"""

import os

import numpy as np

from kerasae.data import binarize
from kerasae.data import preprocessing
from kerasae.data import reader
from kerasae.data import series
from kerasae.data import splits
from kerasae.data.bundle import DataBundle
from kerasae.data.split import Split
from kerasae.errors import DataError
from kerasae.workdir import ARRAYS_DATASET

MEMORY, STREAM, AUTO = "memory", "stream", "auto"
DATA_PATHS = (AUTO, MEMORY, STREAM)
# The `--dataset` of a run trained on arrays passed from Python; the
# arrays are kept in its workdir (`kerasae.workdir.data_config`).
ARRAYS = ARRAYS_DATASET
_FILES = (".csv", ".npz", ".npy")


def load(config, seed=0, source=None):
    """Loads, splits and scales the data a config names.

    Args:
        config: a `kerasae.config.DataConfig`.
        seed: the run's seed (the validation split, binarization).
        source: a reader already open (arrays from Python); None: open
            the one `config.dataset` names.

    Returns:
        A `DataBundle`.

    Raises:
        DataError: the data is missing, unreadable or invalid, or an
            option does not apply to it; one line saying what to fix.
        ConfigError: a bad `--validation_fraction` or `--binarize`.
    """
    if config.window is not None:
        return series.load_series(config, seed)
    source = source or open_source(config)
    info = source.info
    path = data_path(config, source)
    chosen = splits.choose(source, config.validation_fraction,
                           tuple(int(c) for c in config.train_classes), seed)
    if config.test_dataset:
        chosen["test"] = _test_file(config, info)
    unit_range = info.scaling != preprocessing.STANDARDIZE
    binarize.check(config.binarize, unit_range, info.name)
    if path == MEMORY:
        cache = {}

        def raw(where):
            owner, part, index = where
            if (id(owner), part) not in cache:
                cache[id(owner), part] = owner.read_all(part)
            x, y = cache[id(owner), part]
            return x[index], None if y is None else y[index]

        train_x = raw((source,) + chosen["train"])[0]
        prep, data_range = preprocessing.fit(info.scaling, lambda: (
            train_x[i:i + 4096] for i in range(0, len(train_x), 4096)))

        def make(where, seed):
            x, y = raw(where)
            x, index = prep.apply(x), where[2]
            if seed is not None:
                x = binarize.binarize_arrays(x, index, seed)
            return Split(x, y, index)
    else:
        def make(where, seed):
            return Split.streamed(*where, prep, seed)

        prep, data_range = preprocessing.fit(info.scaling, Split.streamed(
            source, *chosen["train"], None).raw_batches)
    mode = config.binarize
    test = chosen["test"]
    bundle = DataBundle(
        name=info.name, kind=info.kind,
        train=make((source,) + chosen["train"],
                   seed if mode == "static" else None),
        validation=make((source,) + chosen["validation"],
                        None if mode == "none" else binarize.EVAL_SEED + 1),
        test=None if test is None else make(
            test if len(test) == 3 else (source,) + test,
            None if mode == "none" else binarize.EVAL_SEED + 2),
        input_shape=tuple(int(d) for d in info.shape), preprocessing=prep,
        unit_range=unit_range,
        data_range=(0.0, 1.0) if mode != "none" else data_range,
        num_classes=info.num_classes, feature_names=info.feature_names,
        binarize=mode, data_path=path)
    if mode == "dynamic":
        bundle.train.dynamic_seed = seed
    return bundle


def _test_file(config, info):
    """`(reader, part, indices)` of `--test_dataset`: every example.

    Raises:
        DataError: its columns or example shape differ from the
            training data's.
    """
    path = config.test_dataset
    other = open_source(config, path)
    if tuple(other.info.feature_names) != tuple(info.feature_names):
        raise DataError(
            f"--test_dataset={path}: its features "
            f"({', '.join(other.info.feature_names)}) differ from the "
            f"training file's ({', '.join(info.feature_names)}); give a file "
            "with the same columns")
    if tuple(other.info.shape) != tuple(info.shape):
        raise DataError(
            f"--test_dataset={path}: one example has shape "
            f"{tuple(other.info.shape)} but the training data's has "
            f"{tuple(info.shape)}; give a file of the same kind")
    part = reader.TEST if reader.TEST in other.info.parts else reader.TRAIN
    return other, part, np.arange(other.info.parts[part], dtype=np.int64)


def open_source(config, dataset=None):
    """The reader of `dataset` (default `config.dataset`).

    Raises:
        DataError: missing or unsupported, or an option that does not
            apply to this kind of source (`--label_column` to anything but
            a CSV file, `--image_size` to anything but images).
    """
    from kerasae.data import tables

    dataset = dataset or config.dataset
    if dataset == ARRAYS:
        raise DataError(
            f"--dataset={ARRAYS} names arrays kept in a run's workdir: load "
            "them with kerasae.workdir.data_config(config, workdir)")
    if not os.path.exists(dataset) and _looks_like_path(dataset):
        raise DataError(
            f"--dataset={dataset}: no such file or folder; check the path "
            "(a TFDS name has no '/' or file extension)")
    extension = os.path.splitext(dataset)[1].lower()
    is_csv = os.path.isfile(dataset) and extension == ".csv"
    if config.label_column is not None and not is_csv:
        raise DataError(
            f"--label_column={config.label_column} applies to CSV files "
            f"only, but --dataset={dataset} is not a CSV file")
    if config.image_size and os.path.isfile(dataset):
        raise DataError(
            f"--image_size applies to image folders and TFDS datasets, not "
            f"to {os.path.basename(dataset)}: resize the arrays first")
    if not os.path.exists(dataset):
        from kerasae.data import tfds_reader
        return tfds_reader.TfdsDataset(dataset, config.data_dir,
                                       tuple(config.image_size), config.crop)
    if os.path.isdir(dataset):
        from kerasae.data import image_folder
        return image_folder.ImageFolder(dataset, tuple(config.image_size),
                                        config.crop)
    if is_csv:
        return tables.CsvTable(dataset, config.label_column)
    if extension == ".npz":
        return tables.read_npz(dataset)
    if extension == ".npy":
        return tables.read_npy(dataset)
    raise DataError(
        f"unsupported file extension {extension or '(none)'!r} for "
        f"{dataset!r}: use .npz, .npy, .csv, or a folder of PNG/JPEG images")


def data_path(config, source):
    """`memory` or `stream`: the path `config` takes for `source`.

    It depends only on the data and the config, never on the machine's
    free memory, so the same seed gives the same run everywhere.

    Raises:
        DataError: `--data_path=stream` for arrays that are held whole.
    """
    if config.data_path == STREAM:
        if source.streams:
            return STREAM
        raise DataError(
            f"--data_path=stream cannot stream {source.info.name}: it is "
            "read whole (a .npz archive, or arrays from Python); save the "
            "features with np.save as a .npy file to stream them")
    if config.data_path == MEMORY:
        return MEMORY
    too_big = source.info.decoded_megabytes() > config.in_memory_limit_mb
    return STREAM if too_big and source.streams else MEMORY


def is_tfds_name(dataset):
    """Whether `--dataset` names a TFDS dataset rather than a file or
    folder (as `open_source` decides)."""
    return (dataset != ARRAYS and not os.path.exists(dataset)
            and not _looks_like_path(dataset))


def _looks_like_path(dataset):
    # TFDS names are like "mnist" or "mnist:3.0.1"; a separator or a known
    # file extension means the user meant a file of their own.
    return os.sep in dataset or \
        os.path.splitext(dataset)[1].lower() in _FILES
