"""Image folders as `tf.data` pipelines, and the resize both paths share.

The folder is listed once (paths and labels, a few bytes per image) and
every image's header is read to check sizes and colour; pixels are decoded
only as the pipeline reaches them, in parallel, and stay uint8 until the
batch is mapped to model space.

`--image_size=H,W` resizes every image (bilinear with antialiasing, then
rounded back to uint8) and `--crop` first cuts the largest centred window
of the target's aspect ratio, so faces stay round. The in-memory reader
calls the same `decode_file`, so both paths give the same pixels.

The held-out validation images are chosen by a hash of their path inside
the folder (`hash_held_out`): the same images on every run, every machine
and every worker, whatever the order the folder lists them in, and without
holding any image in memory.
"""

import hashlib
import os

import numpy as np
import tensorflow as tf

from kerasae.data import images
from kerasae.data import preprocessing
from kerasae.data.streaming import StreamSplit
from kerasae.data.streaming import example_order
from kerasae.data.streaming import shard_of
from kerasae.errors import DataError


def resize(image, image_size, crop=False):
    """Resizes one uint8 image `(h, w, c)` to `image_size`.

    Args:
        image: uint8 tensor `(h, w, c)`.
        image_size: `(height, width)`, or () to keep the size.
        crop: cut the largest centred window with the aspect ratio of
            `image_size` first.

    Returns:
        uint8 tensor `(height, width, c)`.
    """
    if not image_size:
        return image
    height, width = (int(v) for v in image_size)
    if crop:
        shape = tf.shape(image)
        h, w = shape[0], shape[1]
        # The largest window of ratio height:width inside h x w.
        crop_h = tf.minimum(h, (w * height) // width)
        crop_w = tf.minimum(w, (h * width) // height)
        image = tf.image.crop_to_bounding_box(
            image, (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w)
    resized = tf.image.resize(image, (height, width), method="bilinear",
                              antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def decode_file(path, channels, image_size=(), crop=False):
    """Reads and decodes one PNG or JPEG file, resized when asked.

    Args:
        path: string tensor, the file's path.
        channels: 1 (grayscale) or 3 (RGB); alpha is dropped.
        image_size: see `resize`.
        crop: see `resize`.

    Returns:
        uint8 tensor `(h, w, channels)`.
    """
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                               expand_animations=False)
    return resize(image, image_size, crop)


def decode_files(paths, channels, image_size, crop, batch_size=256):
    """Decodes `paths` (all resized to `image_size`) into one uint8 array.

    The in-memory reader's way to resize: the same ops as the pipeline.
    """
    height, width = image_size
    ds = tf.data.Dataset.from_tensor_slices(list(paths)).map(
        lambda p: decode_file(p, channels, image_size, crop),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    out = np.empty((len(paths), height, width, channels), np.uint8)
    start = 0
    for batch in ds.batch(batch_size).as_numpy_iterator():
        out[start:start + len(batch)] = batch
        start += len(batch)
    return out


def resize_array(x, image_size, crop, batch_size=256):
    """`resize` applied to every image of a uint8 array `(n, h, w, c)`."""
    height, width = image_size
    out = np.empty((len(x), height, width, x.shape[-1]), np.uint8)
    for start in range(0, len(x), batch_size):
        batch = tf.convert_to_tensor(x[start:start + batch_size])
        out[start:start + batch_size] = tf.map_fn(
            lambda image: resize(image, image_size, crop), batch,
            fn_output_signature=tf.uint8).numpy()
    return out


def resize_source(source, image_size, crop):
    """A TFDS `Source` with every split's images resized (in memory)."""
    for name in ("train", "validation", "test"):
        split = getattr(source, name)
        if split is not None:
            split.x = resize_array(split.x, image_size, crop)
    return source


def hash_held_out(files, fraction):
    """Which `files` go to validation: those with the smallest hashes.

    Exactly `round(n * fraction)` files (at least 1, at most n - 1) with
    the smallest SHA-1 of their relative path are held out, so the split
    depends only on the file names.

    Args:
        files: relative paths.
        fraction: share to hold out, in (0, 1).

    Returns:
        A bool array, True for validation.
    """
    n = len(files)
    keys = np.array([int.from_bytes(hashlib.sha1(
        f.replace(os.sep, "/").encode()).digest()[:8], "big")
        for f in files], dtype=np.uint64)
    n_validation = min(max(int(round(n * fraction)), 1), n - 1)
    held_out = np.zeros(n, dtype=bool)
    held_out[np.argsort(keys, kind="stable")[:n_validation]] = True
    return held_out


class FolderListing:
    """What a folder holds, read from file names and image headers.

    Attributes:
        name: the folder's basename.
        files: image paths relative to the folder.
        labels: int64 labels, or None without class subfolders.
        classes: class folder names.
        channels: 1 if every image is grayscale, else 3.
        image_shape: `(height, width, channels)` after `image_size`.
    """

    def __init__(self, folder, image_size=(), crop=False):
        self.folder = folder
        self.name = os.path.basename(os.path.normpath(folder))
        files, labels, classes = images._list_files(folder, self.name)
        headers = [images._open(folder, f) for f in files]
        if not image_size:
            images.check_one_size(self.name, headers)
        self.files = files
        self.labels = None if labels is None else \
            np.asarray(labels, dtype=np.int64)
        self.classes = classes
        self.channels = 1 if all(h.mode in images.GRAY_MODES
                                 for h in headers) else 3
        width, height = headers[0].size
        if image_size:
            height, width = image_size
        self.image_shape = (int(height), int(width), self.channels)
        self.image_size = tuple(image_size)
        self.crop = crop

    def split(self, indices, name):
        """A `StreamSplit` over the files at `indices`."""
        paths = np.array([os.path.join(self.folder, f)
                          for f in np.asarray(self.files)[indices]])
        labels = None if self.labels is None else self.labels[indices]
        shape, channels = self.image_shape, self.channels
        image_size = self.image_size or shape[:2]

        def examples(shuffle, seed, shard):
            order = shard_of(example_order(shuffle, seed, len(paths)), shard)
            path_table = tf.constant(paths)
            label_table = tf.constant(
                labels if labels is not None
                else np.full(len(paths), -1, np.int64))

            @tf.autograph.experimental.do_not_convert  # no tensor branches
            def read(i):
                image = decode_file(path_table[i], channels,
                                    self.image_size, self.crop)
                if not self.image_size:
                    image = tf.ensure_shape(image, shape)
                else:
                    image.set_shape(tuple(image_size) + (channels,))
                return image, label_table[i]

            return order.map(read, num_parallel_calls=tf.data.AUTOTUNE,
                             deterministic=True)

        return StreamSplit(examples, len(paths), labels is not None,
                           int(np.prod(shape)), name=name)


def stream_image_folder(listing, validation_fraction, train_classes):
    """Train and validation `StreamSplit`s of a listed folder.

    Args:
        listing: a `FolderListing`.
        validation_fraction: share held out by file-name hash.
        train_classes: labels to keep; () keeps all.

    Returns:
        `(train, validation, scaling, num_classes)`.

    Raises:
        DataError: no validation share, too few images, `train_classes`
            without labels or naming an absent class.
    """
    name, n = listing.name, len(listing.files)
    if validation_fraction <= 0:
        raise DataError(
            f"--validation_fraction=0 but {name} has no test split to "
            "validate on: use a fraction above 0, e.g. 0.1")
    if n < 2:
        raise DataError(
            f"{name}: {n} training example(s) are too few to hold out a "
            f"validation split (--validation_fraction={validation_fraction})"
            ": need at least 2")
    held_out = hash_held_out(listing.files, validation_fraction)
    keep = np.ones(n, dtype=bool)
    if train_classes:
        if listing.labels is None:
            raise DataError(
                f"--train_classes needs labels, but {name} has none (give a "
                "label column, a 'y' array, or one subfolder per class)")
        classes = np.asarray([int(c) for c in train_classes])
        absent = np.setdiff1d(classes, listing.labels)
        if len(absent):
            raise DataError(
                f"--train_classes: class {absent[0]} is absent from the "
                f"training data of {name}")
        keep = np.isin(listing.labels, classes)
    train = listing.split(np.flatnonzero(keep & ~held_out), "train")
    validation = listing.split(np.flatnonzero(keep & held_out), "validation")
    return train, validation, preprocessing.PIXELS, len(listing.classes)

