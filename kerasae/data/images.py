"""Reading a folder of PNG or JPEG images.

Two layouts are accepted:

- `folder/*.png`: images without labels;
- `folder/<class>/*.png`: one subfolder per class; sorted subfolder names
  are numbered 0..k-1 and give the labels.

All images must share one size (we never resize behind the user's back)
unless `--image_size` asks for a resize (`kerasae.data.image_stream`).
If any image has colour, all are read as RGB `(h, w, 3)`, else as grayscale
`(h, w, 1)`; alpha channels are dropped.
"""

import os

import numpy as np
from PIL import Image

from kerasae.data import preprocessing
from kerasae.data.bundle import IMAGE
from kerasae.data.bundle import Source
from kerasae.data.bundle import Split
from kerasae.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Modes PIL reports for single-channel images (with or without alpha).
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def read_image_folder(folder, image_size=(), crop=False):
    """Reads every image under `folder` into one uint8 array.

    Args:
        folder: path to a folder of images, or of class subfolders.
        image_size: `(height, width)` to resize every image to, or () to
            require one size.
        crop: centre-crop to the aspect ratio of `image_size` first.

    Returns:
        A `Source` with a train split only; labels when there are class
        subfolders.

    Raises:
        DataError: empty folder or class folder, mixed layouts, a file that
            is not an image, an image that cannot be decoded, images of
            different sizes.
    """
    name = os.path.basename(os.path.normpath(folder))
    files, labels, classes = _list_files(folder, name)
    headers = [_open(folder, f) for f in files]
    if not image_size:
        check_one_size(name, headers)
    gray = all(h.mode in GRAY_MODES for h in headers)
    if image_size:
        from kerasae.data import image_stream  # starts TensorFlow

        x = image_stream.decode_files(
            [os.path.join(folder, f) for f in files], 1 if gray else 3,
            tuple(image_size), crop)
    else:
        mode = "L" if gray else "RGB"
        width, height = headers[0].size
        x = np.empty((len(files), height, width, 1 if gray else 3),
                     np.uint8)
        for i, file in enumerate(files):
            x[i] = _decode(folder, file, mode).reshape(x.shape[1:])
    y = None if labels is None else np.asarray(labels, dtype=np.int64)
    return Source(
        name=name,
        kind=IMAGE,
        train=Split(x, y),
        scaling=preprocessing.PIXELS,
        num_classes=len(classes),
    )


def check_one_size(name, headers):
    """Raises `DataError` unless every header has the first one's size."""
    first = headers[0]
    for header in headers[1:]:
        if header.size != first.size:
            raise DataError(
                f"{name}: images must all share one size, but "
                f"{first.file!r} is {_size(first.size)} and {header.file!r} "
                f"is {_size(header.size)}: resize them first")


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
    try:
        with Image.open(os.path.join(folder, file)) as image:
            return _Header(file, image.size, image.mode)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise _decode_error(folder, file, e) from None


def _decode(folder, file, mode):
    try:
        with Image.open(os.path.join(folder, file)) as image:
            return np.asarray(image.convert(mode), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise _decode_error(folder, file, e) from None


def _decode_error(folder, file, error):
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    path = os.path.join(folder, file)
    return DataError(f"cannot decode image {path!r}: {reason}")


def _size(size):
    width, height = size
    return f"{width}x{height} (width x height)"
