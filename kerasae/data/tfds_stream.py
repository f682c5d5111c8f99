"""TFDS image datasets as `tf.data` pipelines (`tfds.load(split=...)`).

The dataset's own `validation` split is used when it has one; otherwise
validation is the last `validation_fraction` of `train` by TFDS split
slicing (`train[:54000]` and `train[54000:]` for MNIST at 0.1), the same
examples on every run and every worker. Under a multi-worker strategy
each worker reads its own share of the dataset's files
(`tfds.ReadConfig(input_context=...)`). Examples stay uint8 until the
batch; `--image_size` resizes each one (and lets datasets with images of
varying size in).
"""

import dataclasses
import typing

import tensorflow as tf
import tensorflow_datasets as tfds

from kerasae.data import image_stream
from kerasae.data import streaming
from kerasae.data import tfds_source
from kerasae.errors import DataError


@dataclasses.dataclass
class TfdsStream:
    """The streamed splits of a TFDS dataset, and what the model needs."""

    train: streaming.StreamSplit
    validation: streaming.StreamSplit
    test: typing.Optional[streaming.StreamSplit]
    image_shape: tuple
    num_classes: int


def _checked_image(name, builder, image_size):
    features = builder.info.features
    image = tfds_source._image_feature(builder)
    if image is None:
        raise DataError(
            f"TFDS dataset {name!r} has no 'image' feature (features: "
            f"{', '.join(features)}): load tabular data from a .csv or "
            ".npz file instead")
    height, width, channels = image.shape
    if None in (height, width) and not image_size:
        raise DataError(
            f"TFDS dataset {name!r} has images of varying size "
            f"{image.shape}: pass --image_size=HEIGHT,WIDTH to resize them")
    if image_size:
        height, width = image_size
    return image, (int(height), int(width), int(channels))


def decoded_megabytes(name, config):
    """All splits as float32 in MB, from the metadata; None if unknown."""
    builder = tfds_source._builder(name, config.data_dir)
    image = tfds_source._image_feature(builder)
    if image is None or not builder.info.splits:
        return None
    height, width, channels = image.shape
    if None in (height, width) and config.image_size:
        # Images of varying size can only be resized on the way: stream.
        return float("inf")
    if config.image_size:
        height, width = config.image_size
    if None in (height, width, channels):
        return None
    total = sum(s.num_examples for s in builder.info.splits.values())
    return streaming.float32_megabytes(total, (height, width, channels))


def stream_tfds(name, config):
    """The streamed splits of TFDS dataset `name`.

    Args:
        name: TFDS name.
        config: a `DataConfig` (data_dir, validation_fraction,
            train_classes, image_size, crop).

    Returns:
        A `TfdsStream`.

    Raises:
        DataError: as `tfds_source.read_tfds`.
    """
    builder = tfds_source._builder(name, config.data_dir)
    image, shape = _checked_image(name, builder, tuple(config.image_size))
    features = builder.info.features
    label = features["label"] if "label" in features else None
    if not isinstance(label, tfds.features.ClassLabel):
        label = None
    tfds_source._prepare(builder, name, config.data_dir)
    splits = set(builder.info.splits) or {"train", "test"}
    if "train" not in splits:
        raise DataError(
            f"TFDS dataset {name!r} has no 'train' split (splits: "
            f"{', '.join(sorted(splits))})")
    classes = tuple(int(c) for c in config.train_classes)
    if classes and label is None:
        raise DataError(
            f"--train_classes needs labels, but {name} has none (give a "
            "label column, a 'y' array, or one subfolder per class)")

    def split(spec, filtered):
        return _split(builder, spec, label is not None, shape, config,
                      classes if filtered else ())

    test = split("test", False) if "test" in splits else None
    fraction = config.validation_fraction
    if "validation" in splits:
        train, validation = split("train", True), split("validation", True)
    elif fraction > 0:
        train_spec, validation_spec = held_out_slices(builder, fraction)
        train = split(train_spec, True)
        validation = split(validation_spec, True)
    elif test is not None:
        train, validation = split("train", True), split("test", True)
    else:
        raise DataError(
            f"--validation_fraction=0 but {name} has no test split to "
            "validate on: use a fraction above 0, e.g. 0.1")
    return TfdsStream(train, validation, test, shape,
                      0 if label is None else label.num_classes)


def held_out_slices(builder, fraction):
    """TFDS split strings for `train` without and with the held-out part.

    The last `round(n * fraction)` examples (at least 1) when the size is
    known, else whole percents.
    """
    splits = builder.info.splits
    n = splits["train"].num_examples if splits else 0
    if n >= 2:
        held = min(max(int(round(n * fraction)), 1), n - 1)
        return f"train[:{n - held}]", f"train[{n - held}:]"
    percent = min(max(int(round(100 * fraction)), 1), 99)
    return f"train[:{100 - percent}%]", f"train[{100 - percent}%:]"


def _num_examples(builder, spec):
    if not builder.info.splits:
        return None
    try:
        return int(builder.info.splits[spec].num_examples)
    except (KeyError, ValueError):
        return None


def _split(builder, spec, with_labels, shape, config, classes):
    image_size, crop = tuple(config.image_size), config.crop

    def examples(shuffle, seed, shard):
        context = None if shard is None else tf.distribute.InputContext(
            num_input_pipelines=shard[0], input_pipeline_id=shard[1])
        ds = builder.as_dataset(
            split=spec, shuffle_files=shuffle,
            read_config=tfds.ReadConfig(
                shuffle_seed=seed, try_autocache=False,
                input_context=context))

        @tf.autograph.experimental.do_not_convert  # no tensor branches
        def pick(example):
            x = image_stream.resize(example["image"], image_size, crop)
            if not image_size:
                x = tf.ensure_shape(x, shape)
            y = tf.cast(example["label"], tf.int64) if with_labels else \
                tf.constant(-1, tf.int64)
            return x, y

        ds = ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
        if classes:
            wanted = tf.constant(classes, tf.int64)
            ds = ds.filter(lambda x, y: tf.reduce_any(tf.equal(y, wanted)))
        return ds

    count = None if classes else _num_examples(builder, spec)
    example_bytes = shape[0] * shape[1] * shape[2]
    name = spec.split("[")[0]
    return streaming.StreamSplit(examples, count, with_labels, example_bytes,
                                 name=name)
