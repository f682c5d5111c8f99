"""`load`: from a `DataConfig` to a `DataBundle` in model space.

`config.dataset` names an existing path (the user's own data) or, failing
that, a TFDS dataset. Reading, splitting and scaling are separate steps so
that the scaling statistics come from the final training split only.
"""

import os

import numpy as np

from kerasae.data import preprocessing
from kerasae.data import series
from kerasae.data import stream_loader
from kerasae.data import streaming
from kerasae.data import test_file
from kerasae.data.arrays import read_npy
from kerasae.data.arrays import read_npz
from kerasae.data.binarize import binarize_bundle
from kerasae.data.bundle import DataBundle
from kerasae.data.bundle import Split
from kerasae.data.csv_source import read_csv
from kerasae.data.images import read_image_folder
from kerasae.data.splits import choose_splits
from kerasae.data.tfds_source import read_tfds
from kerasae.errors import DataError

_FILE_READERS = {".npz": read_npz, ".npy": read_npy}
# The `--dataset` of a run trained on arrays passed from Python; the
# arrays are kept in its workdir (`kerasae.run.data_config`).
ARRAYS = "<arrays>"


def load(config, seed=0, source=None):
    """Loads, splits and scales the data a config names.

    Data above `config.in_memory_limit_mb` (or with
    `--data_path=stream`) streams instead (`kerasae.data.stream_loader`).

    Args:
        config: a `kerasae.config.DataConfig`.
        seed: seeds the held-out validation split.
        source: a raw `Source` already read (arrays from Python); None:
            read the one `config.dataset` names.

    Returns:
        A `DataBundle` whose splits are float32 in model space, or
        `StreamSplit`s yielding float32 model-space batches.

    Raises:
        DataError: the data is missing, unreadable or invalid; the message
            is one line saying what to fix.
        ConfigError: `validation_fraction` outside [0, 1).
    """
    if config.image_size and os.path.isfile(config.dataset):
        raise DataError(
            f"--image_size applies to image folders and TFDS datasets, not "
            f"to {os.path.basename(config.dataset)}: resize the arrays "
            "first")
    if config.window is not None:
        return series.load_series(config, seed)  # issue 14
    if source is None:
        if stream_loader.data_path(config) == streaming.STREAM:
            if config.test_dataset:
                raise DataError(
                    "--test_dataset needs the in-memory path: pass "
                    "--data_path=memory, or drop --test_dataset")
            return stream_loader.load_stream(config, seed)
        source = read_source(config)
    train, validation, test = choose_splits(
        source, config.validation_fraction, tuple(config.train_classes),
        seed)
    if config.test_dataset:
        test = test_file.read_test_split(config, source, read_source)
    prep = preprocessing.fit(source.scaling, train.x)
    train, validation = _apply(prep, train), _apply(prep, validation)
    test = None if test is None else _apply(prep, test)
    bundle = DataBundle(
        name=source.name,
        kind=source.kind,
        train=train,
        validation=validation,
        test=test,
        input_shape=tuple(int(d) for d in train.x.shape[1:]),
        preprocessing=prep,
        unit_range=source.scaling != preprocessing.STANDARDIZE,
        data_range=(float(train.x.min()), float(train.x.max())),
        num_classes=source.num_classes,
        feature_names=source.feature_names,
    )
    # Binary digits (`--binarize`) for the likelihoods papers report.
    return binarize_bundle(bundle, getattr(config, "binarize", "none"), seed)


def read_source(config):
    """Reads the raw `Source` that `config.dataset` names.

    Args:
        config: a `kerasae.config.DataConfig`.

    Returns:
        A `Source` of raw arrays.

    Raises:
        DataError: see `load`.
    """
    dataset = config.dataset
    if dataset == ARRAYS:
        raise DataError(
            f"--dataset={ARRAYS} names arrays kept in a run's workdir: load "
            "them with kerasae.run.data_config(config, workdir)")
    if not os.path.exists(dataset) and _looks_like_path(dataset):
        raise DataError(
            f"--dataset={dataset}: no such file or folder; check the path "
            "(a TFDS name has no '/' or file extension)")
    if not os.path.exists(dataset):
        _no_label_column(config)
        source = read_tfds(dataset, config.data_dir)
        if config.image_size:
            from kerasae.data import image_stream
            source = image_stream.resize_source(
                source, tuple(config.image_size), config.crop)
        return source
    if os.path.isdir(dataset):
        _no_label_column(config)
        return read_image_folder(dataset, tuple(config.image_size),
                                 config.crop)
    extension = os.path.splitext(dataset)[1].lower()
    if extension == ".csv":
        return read_csv(dataset, config.label_column)
    if extension in _FILE_READERS:
        _no_label_column(config)
        return _FILE_READERS[extension](dataset)
    raise DataError(
        f"unsupported file extension {extension or '(none)'!r} for "
        f"{dataset!r}: use .npz, .npy, .csv, or a folder of PNG/JPEG images")


def check_tfds_name(config):
    """Raises `read_source`'s error for a missing path or a label column
    given with a TFDS name."""
    dataset = config.dataset
    if not os.path.exists(dataset) and _looks_like_path(dataset):
        raise DataError(
            f"--dataset={dataset}: no such file or folder; check the path "
            "(a TFDS name has no '/' or file extension)")
    _no_label_column(config)


def is_tfds_name(dataset):
    """Whether `--dataset` names a TFDS dataset rather than a file or
    folder (as `read_source` decides)."""
    return (dataset != ARRAYS and not os.path.exists(dataset)
            and not _looks_like_path(dataset))


def _looks_like_path(dataset):
    # TFDS names are like "mnist" or "mnist:3.0.1"; a separator or a known
    # file extension means the user meant a file of their own.
    extension = os.path.splitext(dataset)[1].lower()
    return os.sep in dataset or extension in (".csv", *_FILE_READERS)


def _no_label_column(config):
    # Silently ignoring the flag would train without the labels the user
    # meant to give.
    if config.label_column is not None:
        raise DataError(
            f"--label_column={config.label_column} applies to CSV files "
            f"only, but --dataset={config.dataset} is not a CSV file")


def _apply(prep, split):
    y = None if split.y is None else np.asarray(split.y, dtype=np.int64)
    return Split(prep.apply(split.x), y)


no_label_column = _no_label_column
