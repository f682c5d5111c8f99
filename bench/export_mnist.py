"""Writes MNIST from TFDS to an `.npz` for the PyTorch reference.

    TFDS_DATA_DIR=../shared/tfds python bench/export_mnist.py \
        --out=/tmp/mnist.npz

The reference (`bench/pytorch_vae.py`) runs in an environment without
TensorFlow, so it reads the same pixels from this file.
"""

import numpy as np
import tensorflow_datasets as tfds
from absl import app
from absl import flags

flags.DEFINE_string("out", "/tmp/mnist.npz", "Output .npz path.")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")


def main(_):
    arrays = {}
    for split in ("train", "test"):
        data = tfds.as_numpy(tfds.load(
            "mnist", split=split, data_dir=flags.FLAGS.data_dir,
            batch_size=-1))
        arrays[f"x_{split}"] = data["image"]
        arrays[f"y_{split}"] = data["label"]
    np.savez(flags.FLAGS.out, **arrays)
    print(f"wrote {flags.FLAGS.out}: "
          + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    app.run(main)
