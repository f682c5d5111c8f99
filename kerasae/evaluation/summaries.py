"""The evaluation's pictures and final figures in the run's TensorBoard logs.

`write(workdir, metrics)` adds, under `RUN/logs/evaluation/`, every PNG of
`RUN/plots/` as an image summary (`evaluation/<name>`) and every number of
the `evaluation` and `anomaly` sections of `metrics.json` as a scalar
(`evaluation/<key>`, `anomaly/<key>`; nested sections joined with `/`),
at the run's last epoch, so they sit beside the training curves the
`TensorBoard` callback wrote. Evaluating again adds a new point at the
same step; TensorBoard shows the latest.
"""

import os

import tensorflow as tf

from kerasae import workdir as wd

FOLDER = "evaluation"


def numbers(values, prefix):
    """`{"prefix/key": float}` of the finite numbers of a nested dict."""
    found = {}
    for key, value in values.items():
        name = f"{prefix}/{key}"
        if isinstance(value, dict):
            found.update(numbers(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if value == value and abs(value) != float("inf"):
                found[name] = float(value)
    return found


def write(workdir, metrics):
    """Writes the summaries; returns the folder they are in.

    Args:
        workdir: the evaluated workdir.
        metrics: the merged `metrics.json` contents.
    """
    folder = os.path.join(wd.path(workdir, wd.LOGS), FOLDER)
    step = int(metrics.get("epochs") or 0)
    writer = tf.summary.create_file_writer(folder)
    with writer.as_default():
        for name in metrics.get("plots", []):
            path = os.path.join(wd.path(workdir, wd.PLOTS), name)
            if not os.path.exists(path):
                continue
            image = tf.image.decode_png(tf.io.read_file(path), channels=4)
            tf.summary.image(f"evaluation/{os.path.splitext(name)[0]}",
                             image[None], step=step)
        for section in ("evaluation", "anomaly"):
            if isinstance(metrics.get(section), dict):
                for name, value in numbers(metrics[section],
                                           section).items():
                    tf.summary.scalar(name, value, step=step)
    writer.close()
    return folder
