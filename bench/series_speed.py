"""Series speed: recorded scoring of a long log, and training per epoch.

    nice -n 10 python bench/series_speed.py

1. Recorded scoring (`kerasae.evaluation.recorded`) of a generated
   `--steps` log (default 1,000,000 steps, two sensors) by a conv1d
   autoencoder with a 48-step window: wall time of one call of the
   traced scorer after a warm-up call on a short log, and the peak
   resident memory it took.
2. Training speed on the same windows (`--train_steps` of a two-sensor
   log, window 48, batch 64): seconds per epoch of `kerasae.training.train`
   (`--model=ae --arch=conv1d`, windows gathered in `tf.data`) against the
   keras-io recipe's `model.fit(x, x)` on the array of those windows
   (its Conv1D 32-16 model, batch 64, no early stopping), the median of
   `--epochs` epochs each, the first epoch (tracing) left out.

Other jobs share the CPU; run it when the machine is quiet and report
the CPU (`lscpu`) with the figures.
"""

import json
import os
import resource
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import series_data  # noqa: E402

from kerasae import config as kae_config  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.evaluation import anomaly  # noqa: E402
from kerasae.evaluation import recorded  # noqa: E402

flags.DEFINE_integer("steps", 1_000_000, "Steps of the scored log.")
flags.DEFINE_integer("train_steps", 20_000, "Steps of the training log.")
flags.DEFINE_integer("epochs", 4, "Epochs timed per trainer.")
flags.DEFINE_integer("window", 48, "Window length.")
FLAGS = flags.FLAGS


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def keras_io_model(window, features):
    return keras.Sequential([
        keras.Input((window, features)),
        keras.layers.Conv1D(32, 7, padding="same", strides=2,
                            activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Conv1D(16, 7, padding="same", strides=2,
                            activation="relu"),
        keras.layers.Conv1DTranspose(16, 7, padding="same", strides=2,
                                     activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Conv1DTranspose(32, 7, padding="same", strides=2,
                                     activation="relu"),
        keras.layers.Conv1DTranspose(features, 7, padding="same"),
    ])


def main(argv):
    del argv
    out = {}
    values, _ = series_data.make_series(FLAGS.train_steps, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "train.npy")
        np.save(path, values.astype(np.float32))
        config = kae_config.Config(
            model=kae_config.ModelConfig(name="ae", arch="conv1d"),
            data=kae_config.DataConfig(dataset=path, window=FLAGS.window),
            train=kae_config.TrainConfig(epochs=FLAGS.epochs + 1,
                                         batch_size=64))
        timer = EpochTimes()
        workdir = os.path.join(folder, "run")
        training.train(config, workdir, verbose=0, callbacks=[timer])
        out["kerasae_epoch_seconds"] = float(np.median(timer.seconds[1:]))
        _, model, pre = training.load_run(workdir)
        # The keras-io recipe on the same training windows, as an array.
        steps = int(round(len(values) * 0.9))
        train = pre.apply(values[:steps].astype(np.float32))
        x = np.lib.stride_tricks.sliding_window_view(
            train, FLAGS.window, axis=0).transpose(0, 2, 1).copy()
        recipe = keras_io_model(FLAGS.window, x.shape[2])
        recipe.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        timer = EpochTimes()
        recipe.fit(x, x, epochs=FLAGS.epochs + 1, batch_size=64,
                   verbose=0, callbacks=[timer])
        out["keras_io_fit_epoch_seconds"] = float(
            np.median(timer.seconds[1:]))
        out["training_windows"] = int(len(x))

        log, _ = series_data.make_series(FLAGS.steps, seed=2)
        # As evaluation runs it: raw values in, the code term on.
        code = anomaly.fit(model, "code_mahalanobis", x, x[-2000:])
        scorer = recorded.RecordedScorer(model, FLAGS.window, code, pre)
        scorer(log[:5000].astype(np.float32))  # trace once
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        errors = scorer(log.astype(np.float32))
        out["recorded_seconds"] = time.perf_counter() - started
        out["recorded_steps"] = int(len(errors))
        out["peak_rss_mb"] = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_rss_mb_before_scoring"] = before / 1024
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    app.run(main)
