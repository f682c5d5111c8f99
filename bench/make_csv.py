"""Generates a large CSV file of numbers for the streaming benchmarks.

    python bench/make_csv.py --megabytes=2048 --out=/tmp/kae-csv-2gb.csv

A header `f0,...,f{n-1}`, then rows of `--features` Gaussian features
(written with 4 decimals, about 8 bytes a cell) until the file reaches
`--megabytes`. The file goes under /tmp: never commit it.
"""

import os

import numpy as np
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("megabytes", 2048, "Size of the file (2**20 bytes).")
flags.DEFINE_integer("features", 32, "Columns.")
flags.DEFINE_string("out", "/tmp/kae-csv.csv", "File to write.")
flags.DEFINE_integer("seed", 0, "Random seed.")


def main(argv):
    del argv
    rng = np.random.default_rng(FLAGS.seed)
    target = FLAGS.megabytes * 2**20
    columns = FLAGS.features
    # Column j has mean j and standard deviation 1 + j / 10.
    mean = np.arange(columns, dtype=np.float64)
    std = 1.0 + mean / 10.0
    row_format = ",".join(["%.4f"] * columns) + "\n"
    with open(FLAGS.out, "w") as f:
        f.write(",".join(f"f{j}" for j in range(columns)) + "\n")
        while f.tell() < target:
            block = rng.normal(mean, std, (20_000, columns))
            f.write("".join(row_format % tuple(row) for row in block))
    size = os.path.getsize(FLAGS.out) / 2**20
    print(f"{FLAGS.out}: {size:.0f} MB")


if __name__ == "__main__":
    app.run(main)
