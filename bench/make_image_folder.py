"""Generates a folder of small RGB PNG images for the streaming benchmarks.

    python bench/make_image_folder.py --count=10000 --out=/tmp/kae-img-10k

Each image is a smooth random field (an 8x8 grid of random colours,
bilinearly upscaled) plus a little noise, so PNG compresses it about as
well as a photo thumbnail and decoding costs about what a real folder
costs. Files are named `img-000000.png` ...; the same `--seed` gives the
same folder. The folder goes under /tmp: never commit it.
"""

import os

import numpy as np
from absl import app
from absl import flags
from PIL import Image

FLAGS = flags.FLAGS
flags.DEFINE_integer("count", 10_000, "Number of images.")
flags.DEFINE_integer("size", 64, "Height and width in pixels.")
flags.DEFINE_string("out", "/tmp/kae-img", "Folder to create (must not "
                    "exist, or be a folder this script filled).")
flags.DEFINE_integer("seed", 0, "Random seed.")


def smooth_image(rng, size):
    """A `(size, size, 3)` uint8 image: upscaled 8x8 colours plus noise."""
    small = Image.fromarray(
        rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB")
    big = np.asarray(small.resize((size, size), Image.BILINEAR), np.int16)
    noise = rng.integers(-8, 9, big.shape, dtype=np.int16)
    return np.clip(big + noise, 0, 255).astype(np.uint8)


def main(argv):
    del argv
    os.makedirs(FLAGS.out, exist_ok=True)
    rng = np.random.default_rng(FLAGS.seed)
    for i in range(FLAGS.count):
        path = os.path.join(FLAGS.out, f"img-{i:06d}.png")
        image = smooth_image(rng, FLAGS.size)
        if not os.path.exists(path):
            Image.fromarray(image, "RGB").save(path, compress_level=1)
    print(f"{FLAGS.count} images of {FLAGS.size}x{FLAGS.size} in {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
