"""Makhzani et al. (2015), Tables 2 and 3: the categorical AAE on MNIST.

    python bench/aae_semi_supervised.py --setting=labels100 --epochs=100
    python bench/aae_semi_supervised.py --setting=clusters16 --epochs=100
    python bench/aae_semi_supervised.py --setting=supervised_only
    python bench/aae_semi_supervised.py --setting=vae_probe

Settings:

- `labels100`, `labels1000`, `labels_all`: the semi-supervised AAE
  (`--aae_mode=semi_supervised`) with 100, 1000 or every training label
  (the paper: 1.90%, 1.60%, 0.85% test error).
- `clusters16`, `clusters30`: the clustering AAE (`--aae_mode=clustering`;
  the paper: 9.55% and 4.10%, each cluster labelled with the majority
  label of its training digits).
- `supervised_only`: the same encoder trained on the 100 labelled digits
  alone (cross-entropy, Adam, `--baseline_epochs` passes over them).
- `vae_probe`: a plain VAE trained on all 60,000 digits (without labels),
  then a linear classifier on the codes of the same 100 labelled digits.

The paper's architecture: encoder, decoder and both discriminators of
two 1000-unit ReLU layers; a 10-way categorical code (16 or 30 clusters)
beside a 10-unit Gaussian style code; batch 100. All 60,000 training
digits are trained on; the test set is judged. The optimizer is Adam
(kerasae's; the paper used SGD with momentum and a stepped rate).

The runs live in `--workdir_root/<setting>`, resume from there when
interrupted, and append the test error every `--curve_every` epochs to
`curve.jsonl` in the workdir. `--partial` reports the curve so far
without training. Results go to `bench/results/aae_<setting>.json`.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from bench import benchlib  # noqa: E402

FLAGS = flags.FLAGS
SETTINGS = ("labels100", "labels1000", "labels_all", "clusters16",
            "clusters30", "supervised_only", "vae_probe")
flags.DEFINE_enum("setting", "labels100", SETTINGS, "What to run.")
flags.DEFINE_integer("epochs", 100, "Training epochs of the AAE or VAE.")
flags.DEFINE_integer("style_dim", 10, "Units of the style code.")
flags.DEFINE_integer("curve_every", 1, "Epochs between test errors.")
flags.DEFINE_integer("baseline_epochs", 300,
                     "supervised_only: passes over the labelled digits.")
flags.DEFINE_string("workdir_root", "runs/aae-paper", "Run folders.")
flags.DEFINE_boolean("partial", False, "Report the curve so far; do not "
                     "train.")

PAPER = {"labels100": 1.90, "labels1000": 1.60, "labels_all": 0.85,
         "clusters16": 9.55, "clusters30": 4.10, "supervised_only": None,
         "vae_probe": None}
LABELS = {"labels100": 100, "labels1000": 1000, "labels_all": None}
CLUSTERS = {"clusters16": 16, "clusters30": 30}
UNITS = (1000, 1000)


def config(setting, epochs, style_dim):
    """The paper's setup as a kerasae `Config`."""
    from kerasae import config as kae_config
    semi = setting in LABELS
    return kae_config.Config(
        model=kae_config.ModelConfig(
            name="aae", hidden_units=UNITS, latent_dim=style_dim,
            discriminator_units=UNITS,
            aae_mode="semi_supervised" if semi else "clustering",
            clusters=CLUSTERS.get(setting)),
        data=kae_config.DataConfig(
            dataset="mnist", data_dir=benchlib.DEFAULT_DATA_DIR,
            validation_fraction=0.0,
            labelled_examples=LABELS.get(setting) if semi else None),
        train=kae_config.TrainConfig(epochs=epochs, batch_size=100),
    )


def test_error(model, bundle):
    """The categorical report on the test split (`test_error` or
    `cluster_error`)."""
    from kerasae.evaluation import categorical
    report = categorical.report(model, bundle.train, bundle.test)
    return report.get("test_error", report.get("cluster_error"))


def curve_callback(workdir, bundle, every):
    """A Keras callback appending `{"epoch", "test_error"}` lines."""
    import keras

    path = os.path.join(workdir, "curve.jsonl")

    class Curve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every:
                return
            line = {"epoch": epoch + 1,
                    "test_error": test_error(self.model, bundle),
                    "time": round(time.time(), 1)}
            with open(path, "a") as handle:
                handle.write(json.dumps(line) + "\n")

    return Curve()


def read_curve(workdir):
    """The curve so far, one point per epoch (a resumed epoch's last)."""
    points = {}
    path = os.path.join(workdir, "curve.jsonl")
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                point = json.loads(line)
                points[point["epoch"]] = point["test_error"]
    return [{"epoch": e, "test_error": points[e]} for e in sorted(points)]


def run_aae(setting):
    from kerasae import data as kae_data
    from kerasae.training import loop
    cfg = config(setting, FLAGS.epochs, FLAGS.style_dim)
    workdir = os.path.join(FLAGS.workdir_root, setting)
    bundle = kae_data.load(cfg.data, seed=cfg.train.seed)
    metrics = {}
    if not FLAGS.partial:
        metrics = loop.train(cfg, workdir, verbose=2, callbacks=[
            curve_callback(workdir, bundle, FLAGS.curve_every)])
    curve = read_curve(workdir)
    return {
        "epochs_asked": FLAGS.epochs,
        "epochs_reached": curve[-1]["epoch"] if curve else 0,
        "test_error": curve[-1]["test_error"] if curve else None,
        "curve": curve,
        "train_seconds": metrics.get("train_seconds"),
    }


def labelled_digits(seed=0, n=100):
    """The 100 labelled training digits the semi-supervised run keeps."""
    from kerasae import data as kae_data
    from kerasae.training import labelled
    cfg = config("labels100", 1, FLAGS.style_dim)
    bundle = kae_data.load(cfg.data, seed=seed)
    chosen = labelled.choose(bundle.train.y, n, seed, 10)
    return bundle, bundle.train.x[chosen], bundle.train.y[chosen]


def run_supervised_only():
    """The AAE's encoder (784-1000-1000-10) on the 100 labels alone."""
    import keras
    import numpy as np
    keras.utils.set_random_seed(0)
    bundle, x, y = labelled_digits()
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Flatten(),
        *[keras.layers.Dense(u, activation="relu") for u in UNITS],
        keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=100, epochs=FLAGS.baseline_epochs, verbose=0)
    predicted = model.predict(bundle.test.x, verbose=0).argmax(axis=1)
    return {"test_error": float(np.mean(predicted != bundle.test.y)),
            "epochs": FLAGS.baseline_epochs}


def run_vae_probe():
    """A linear probe on a plain VAE's codes of the same 100 digits."""
    import numpy as np

    from kerasae import config as kae_config
    from kerasae import workdir as wd
    from kerasae.evaluation import inference
    from kerasae.evaluation import probes
    from kerasae.training import loop
    bundle, x, y = labelled_digits()
    cfg = kae_config.Config(
        model=kae_config.ModelConfig(name="vae", hidden_units=UNITS,
                                     latent_dim=FLAGS.style_dim + 10),
        data=kae_config.DataConfig(
            dataset="mnist", data_dir=benchlib.DEFAULT_DATA_DIR,
            validation_fraction=0.0),
        train=kae_config.TrainConfig(epochs=FLAGS.epochs, batch_size=100))
    workdir = os.path.join(FLAGS.workdir_root, "vae_probe")
    loop.train(cfg, workdir, verbose=2)
    _, model, _ = wd.load_run(workdir)
    predict = probes.fit_linear_classifier(inference.encode(model, x), y,
                                           classes=10)
    codes = inference.encode(model, bundle.test.x)
    return {"test_error": float(np.mean(predict(codes) != bundle.test.y)),
            "vae_epochs": FLAGS.epochs,
            "vae_latent_dim": FLAGS.style_dim + 10}


def main(argv):
    del argv
    machine = benchlib.start(0, "auto", batch_size=100)
    started = time.time()
    setting = FLAGS.setting
    if setting == "supervised_only":
        result = run_supervised_only()
    elif setting == "vae_probe":
        result = run_vae_probe()
    else:
        result = run_aae(setting)
    flags_used = [f"--setting={setting}"]
    if setting != "supervised_only":
        flags_used.append(f"--epochs={FLAGS.epochs}")
    else:
        flags_used.append(f"--baseline_epochs={FLAGS.baseline_epochs}")
    result.update(
        setting=setting,
        paper_test_error_percent=PAPER[setting],
        command=" ".join(["nice -n 10 python bench/aae_semi_supervised.py",
                          *flags_used]),
        wall_seconds=round(time.time() - started, 1),
        machine=machine)
    suffix = "_partial" if FLAGS.partial else ""
    benchlib.save_result(f"aae_{setting}{suffix}", result)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"},
                     indent=1))


if __name__ == "__main__":
    app.run(main)
