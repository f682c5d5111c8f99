"""Choosing the data path, and loading a streamed `DataBundle`.

`decoded_megabytes` sizes a source from what is cheap to read (TFDS
metadata, a folder's file count and first image header, an `.npy`
header, a CSV file's line count), `data_path` turns that into `memory` or
`stream`, and `load_stream` builds the streamed bundle: the source's
`StreamSplit`s and the `Preprocessing` they map batches with.
"""

import os

from kerasae.data import preprocessing
from kerasae.data import streaming
from kerasae.data.bundle import IMAGE
from kerasae.data.bundle import TABULAR
from kerasae.data.bundle import DataBundle
from kerasae.errors import DataError


def decoded_megabytes(config):
    """The source's decoded size in MB (float32, all splits), or None.

    None means "not known without reading it" (TFDS under mock data, a
    `.npz` archive, which cannot be read in parts anyway).
    """
    from kerasae.data import images
    from kerasae.data import loader

    dataset = config.dataset
    if loader.is_tfds_name(dataset):
        from kerasae.data import tfds_stream
        return tfds_stream.decoded_megabytes(dataset, config)
    if not os.path.exists(dataset):
        return None  # the in-memory reader says what is wrong
    if os.path.isdir(dataset):
        name = os.path.basename(os.path.normpath(dataset))
        files, _, _ = images._list_files(dataset, name)
        first = images._open(dataset, files[0])
        width, height = first.size
        if config.image_size:
            height, width = config.image_size
        channels = 1 if first.mode in images.GRAY_MODES else 3
        return streaming.float32_megabytes(len(files),
                                           (height, width, channels))
    extension = os.path.splitext(dataset)[1].lower()
    if extension == ".npy":
        from kerasae.data import table_stream
        return table_stream.npy_megabytes(dataset)
    if extension == ".csv":
        from kerasae.data import table_stream
        return table_stream.csv_megabytes(dataset)
    return None


def data_path(config):
    """`memory` or `stream`: the path `config` takes.

    Raises:
        DataError: `--data_path=stream` for a source that cannot stream.
    """
    if config.data_path == streaming.MEMORY:
        return streaming.MEMORY
    if config.data_path == streaming.STREAM:
        extension = os.path.splitext(config.dataset)[1].lower()
        if extension == ".npz" and os.path.isfile(config.dataset):
            raise DataError(
                f"--data_path=stream cannot stream {config.dataset}: a .npz "
                "archive is read whole; save the features with np.save as a "
                ".npy file to stream them")
        return streaming.STREAM
    return streaming.choose_path(config.data_path, decoded_megabytes(config),
                                 config.in_memory_limit_mb)


def load_stream(config, seed=0):
    """Loads the source `config` names as a streamed `DataBundle`.

    Args:
        config: a `kerasae.config.DataConfig`.
        seed: unused by the split (file-name hashes, TFDS slices and row
            hashes do not depend on it); kept for `load`'s signature.

    Returns:
        A `DataBundle` whose splits are `StreamSplit`s.

    Raises:
        DataError: as `kerasae.data.load`.
    """
    del seed
    from kerasae.data import loader

    dataset = config.dataset
    fraction = config.validation_fraction
    classes = tuple(config.train_classes)
    test = None
    feature_names = ()
    data_range = (0.0, 1.0)  # pixels; tables measure theirs
    if loader.is_tfds_name(dataset) or not os.path.exists(dataset):
        loader.check_tfds_name(config)
        from kerasae.data import tfds_stream
        source = tfds_stream.stream_tfds(dataset, config)
        train, validation, test = source.train, source.validation, \
            source.test
        name, kind, shape = dataset, IMAGE, source.image_shape
        scaling = preprocessing.PIXELS
        prep = preprocessing.fit(scaling, None)
        num_classes = source.num_classes
    elif os.path.isdir(dataset):
        loader.no_label_column(config)
        from kerasae.data import image_stream
        listing = image_stream.FolderListing(
            dataset, tuple(config.image_size), config.crop)
        train, validation, scaling, num_classes = \
            image_stream.stream_image_folder(listing, fraction, classes)
        name, kind, shape = listing.name, IMAGE, listing.image_shape
        prep = preprocessing.fit(scaling, None)
    else:
        from kerasae.data import table_stream
        extension = os.path.splitext(dataset)[1].lower()
        if extension == ".csv":
            table = table_stream.CsvTable(dataset, config.label_column)
        elif extension == ".npy":
            loader.no_label_column(config)
            table = table_stream.NpyTable(dataset)
        else:
            loader.read_source(config)  # the in-memory reader's message
            raise DataError(f"--data_path=stream cannot stream {dataset}")
        train, validation, prep, data_range = table.splits(fraction, classes)
        scaling = table.scaling
        name, shape = table.name, table.example_shape
        kind = TABULAR if len(shape) == 1 else IMAGE
        num_classes, feature_names = table.num_classes, table.feature_names
    for split in (train, validation, test):
        if split is not None:
            split.preprocessing = prep
    return DataBundle(
        name=name,
        kind=kind,
        train=train,
        validation=validation,
        test=test,
        input_shape=tuple(int(d) for d in shape),
        preprocessing=prep,
        unit_range=scaling != preprocessing.STANDARDIZE,
        data_range=tuple(float(v) for v in data_range),
        num_classes=int(num_classes),
        feature_names=tuple(feature_names),
    )
