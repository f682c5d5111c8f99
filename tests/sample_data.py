"""Small synthetic data the tests share.

`blob_images` draws 8x8 images of one bright Gaussian blob at a random
place: a 2-D manifold in [0, 1], so a few training steps already show a
falling reconstruction loss.
"""

import numpy as np


def blob_images(n, seed=0, classes=2):
    """Returns (x, y): `n` blob images (n, 8, 8, 1) float32 and labels.

    Args:
        n: number of images.
        seed: NumPy seed; the same seed gives the same images.
        classes: labels are drawn uniformly from range(classes).
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(8)
    centres = rng.uniform(1, 6, size=(n, 2))
    x = np.exp(-((grid[None, :, None] - centres[:, 0, None, None]) ** 2
                 + (grid[None, None, :] - centres[:, 1, None, None]) ** 2)
               / 3.0)
    return x[..., None].astype("float32"), rng.integers(0, classes, size=n)


def uint8_blob_images(n, seed=0, classes=2):
    """`blob_images` as a raw uint8 grey stack (n, 8, 8), and labels.

    What a client sends: no channel axis, pixel values 0-255.
    """
    x, y = blob_images(n, seed, classes)
    return np.round(255 * x[..., 0]).astype(np.uint8), y


def write_blob_npz(path, n):
    """Writes `blob_images(n)` as an `.npz` (`x`, `y`) at `path`; returns
    the path as a string."""
    x, y = blob_images(n)
    np.savez(path, x=x, y=y)
    return str(path)


def class_blob_images(n, seed=0, classes=3):
    """Blob images whose label says where the blob is: (x, y).

    Class c puts the blob near its own spot on a circle around the centre
    (jittered by up to a pixel, with a random brightness): the label
    decides the content, the code holds the style, as digits do for a
    conditional model. A linear classifier of the pixels tells the
    classes apart.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    angle = 2 * np.pi * y / classes
    centres = np.stack([3.5 + 2.5 * np.cos(angle),
                        3.5 + 2.5 * np.sin(angle)], axis=1)
    centres += rng.uniform(-1, 1, size=(n, 2))
    grid = np.arange(8)
    x = np.exp(-((grid[None, :, None] - centres[:, 0, None, None]) ** 2
                 + (grid[None, None, :] - centres[:, 1, None, None]) ** 2)
               / 2.0)
    x *= rng.uniform(0.6, 1.0, size=(n, 1, 1))
    return x[..., None].astype("float32"), y
