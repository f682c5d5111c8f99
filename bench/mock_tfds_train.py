"""`train.py` on TFDS data simulated by `tfds.testing.mock_data`.

    python bench/mock_tfds_train.py --mock_examples=200000 \
        --dataset=mnist --data_path=stream --workdir=/tmp/w --overwrite

Every `train.py` flag works; `--mock_examples` sets how many random
examples the `train` split yields, `--mock_eval_examples` the other
splits (give `--validation_fraction=0` to validate on `test`). Nothing is
downloaded or read from disk: examples are drawn by TensorFlow ops
(stateless random images and labels) as the pipeline asks, which is far
faster than `mock_data`'s own Python generator, so the process's memory
shows what kerasae itself holds.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from kerasae.data import tfds_reader  # noqa: E402
from kerasae.scripts import train  # noqa: E402

flags.DEFINE_integer("mock_examples", 20_000, "Examples per mock split.")
flags.DEFINE_integer("mock_eval_examples", 2_000,
                     "Examples of the other mock splits.")
flags.DEFINE_string("mock_dir", "/tmp/kerasae-bench/mock-tfds",
                    "Empty TFDS data folder the mock pretends to read.")


def as_dataset(builder, split, decoders=None, read_config=None, **kwargs):
    """Random uint8 images and labels, `mock_examples` for `train`."""
    del decoders, read_config, kwargs
    f = flags.FLAGS
    count = f.mock_examples if str(split).startswith("train") else \
        f.mock_eval_examples
    shape = builder.info.features["image"].shape
    classes = builder.info.features["label"].num_classes

    def example(i):
        seed = tf.stack([i, tf.constant(0, tf.int64)])
        image = tf.random.stateless_uniform(shape, seed, 0, 256, tf.int32)
        label = tf.random.stateless_uniform([], seed + 1, 0, classes,
                                            tf.int64)
        return {"image": tf.cast(image, tf.uint8), "label": label}

    return tf.data.Dataset.range(count).map(example)


def main(argv):
    # mock_data "downloads" for free; the offline probe would refuse.
    tfds_reader.network_reachable = lambda *args, **kwargs: True
    with tfds.testing.mock_data(as_dataset_fn=as_dataset,
                                data_dir=flags.FLAGS.mock_dir):
        train.main(argv)


if __name__ == "__main__":
    app.run(main)
