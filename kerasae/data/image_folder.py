"""A folder of PNG or JPEG images, and the resize TFDS images share.

Two layouts are accepted:

- `folder/*.png`: images without labels;
- `folder/<class>/*.png`: one subfolder per class; sorted subfolder names
  are numbered 0..k-1 and give the labels.

The folder is listed once (paths and labels, a few bytes per image) and
every image's header is read to check sizes and colour; pixels are
decoded only as the pipeline reaches them, in parallel, and stay uint8.
All images must share one size unless `--image_size=H,W` resizes them
(bilinear with antialiasing, rounded back to uint8); `--crop` first cuts
the largest centred window of the target's aspect ratio. If any image has
colour all are read as RGB, else as grayscale; alpha is dropped. An
image's key is the hash of its path inside the folder.
"""

import os

import numpy as np
import tensorflow as tf
from PIL import Image

from kerasae.data import preprocessing
from kerasae.data import reader
from kerasae.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Modes PIL reports for single-channel images (with or without alpha).
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def resize(image, image_size, crop=False):
    """Resizes one uint8 image `(h, w, c)` to `image_size` (() keeps it);
    `crop` cuts the largest centred window of its aspect ratio first."""
    if not image_size:
        return image
    height, width = (int(v) for v in image_size)
    if crop:
        shape = tf.shape(image)
        h, w = shape[0], shape[1]
        crop_h = tf.minimum(h, (w * height) // width)
        crop_w = tf.minimum(w, (h * width) // height)
        image = tf.image.crop_to_bounding_box(
            image, (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w)
    resized = tf.image.resize(image, (height, width), method="bilinear",
                              antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


class ImageFolder(reader.Reader):
    """The images of one folder (see the module docstring)."""

    def __init__(self, folder, image_size=(), crop=False):
        self.folder = folder
        name = os.path.basename(os.path.normpath(folder))
        self.files, labels, classes = _list_files(folder, name)
        headers = [_open(folder, f) for f in self.files]
        if not image_size:
            first = headers[0]
            for header in headers[1:]:
                if header.size != first.size:
                    raise DataError(
                        f"{name}: images must all share one size, but "
                        f"{first.file!r} is {_size(first.size)} and "
                        f"{header.file!r} is {_size(header.size)}: pass "
                        "--image_size=H,W to resize them")
        self._labels = None if labels is None else \
            np.asarray(labels, np.int64)
        self.channels = 1 if all(h.mode in GRAY_MODES for h in headers) \
            else 3
        width, height = headers[0].size
        if image_size:
            height, width = image_size
        self.image_size, self.crop = tuple(image_size), crop
        self.info = reader.Info(
            name=name, kind=reader.IMAGE,
            shape=(int(height), int(width), self.channels), dtype=np.uint8,
            parts={reader.TRAIN: len(self.files)},
            num_classes=len(classes), scaling=preprocessing.PIXELS)

    def keys(self, part):
        return reader.path_keys(self.files)

    def labels(self, part):
        return self._labels

    def examples(self, part, order=None):
        n = len(self.files)
        if order is None:
            order = tf.data.Dataset.range(n)
        paths = tf.constant([os.path.join(self.folder, f)
                             for f in self.files])
        labels = tf.constant(self._labels if self._labels is not None
                             else np.full(n, -1, np.int64))
        shape, channels = self.info.shape, self.channels

        @tf.autograph.experimental.do_not_convert  # no tensor branches
        def read(i):
            image = tf.io.decode_image(
                tf.io.read_file(paths[i]), channels=channels,
                expand_animations=False)
            image = tf.ensure_shape(
                resize(image, self.image_size, self.crop), shape)
            return i, image, labels[i]

        return order.map(read, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=True)


class _Header:
    """What PIL reads from an image's header without decoding pixels."""

    def __init__(self, file, size, mode):
        self.file, self.size, self.mode = file, size, mode


def _list_files(folder, name):
    """Returns image paths relative to `folder`, labels and class names."""
    entries = _visible(folder)
    subfolders = [e for e in entries
                  if os.path.isdir(os.path.join(folder, e))]
    top_files = [e for e in entries if e not in subfolders]
    if subfolders and top_files:
        raise DataError(
            f"{name} mixes files ({top_files[0]!r}) and class subfolders "
            f"({subfolders[0]!r}): put every image in a class subfolder, or "
            "all directly in the folder")
    if not subfolders:
        _check_extensions(name, top_files)
        if not top_files:
            raise DataError(
                f"{name} is an empty folder: put PNG or JPEG images in it, "
                "or in one subfolder per class")
        return top_files, None, ()
    files, labels = [], []
    for label, sub in enumerate(subfolders):
        path = os.path.join(folder, sub)
        inner = _visible(path)
        nested = [e for e in inner if os.path.isdir(os.path.join(path, e))]
        if nested:
            raise DataError(
                f"{name}: class folder {sub!r} holds a subfolder "
                f"{nested[0]!r}; put images directly in class folders")
        _check_extensions(f"{name}/{sub}", inner)
        if not inner:
            raise DataError(
                f"{name}: class folder {sub!r} holds no images; remove it "
                "or add images")
        files.extend(os.path.join(sub, e) for e in inner)
        labels.extend([label] * len(inner))
    return files, labels, tuple(subfolders)


def _visible(folder):
    # Hidden entries (.DS_Store, .ipynb_checkpoints) are not data.
    return sorted(e for e in os.listdir(folder) if not e.startswith("."))


def _check_extensions(where, files):
    for f in files:
        if not f.lower().endswith(IMAGE_EXTENSIONS):
            raise DataError(
                f"{where}: {f!r} is not a PNG or JPEG image (extensions "
                f"{', '.join(IMAGE_EXTENSIONS)}); move it out of the folder")


def _open(folder, file):
    path = os.path.join(folder, file)
    try:
        with Image.open(path) as image:
            return _Header(file, image.size, image.mode)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot decode image {path!r}: "
                        f"{reader.first_line(e)}") from None


def _size(size):
    width, height = size
    return f"{width}x{height} (width x height)"
