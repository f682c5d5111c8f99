"""`RUN/report.html` in a real browser, and the pictures in TensorBoard.

Three small runs, one epoch each, evaluated by `kerasae.evaluate` as a
user would: an image VAE, a tabular autoencoder with labels (scored on a
file holding an unseen class) and a conv1d series autoencoder scored on a
labelled log. Each report is opened in headless Chromium
(`headless_chromium`): every picture of `RUN/plots/` is in the page and
decoded, the series chart drew its line, the console has no error, no
request leaves the machine, and the screenshot is a picture with
something on it. The evaluation's pictures and figures are read back
from the TensorBoard event files.
"""

import os

import headless_chromium
import numpy as np
import pytest
import series_data
import tensorflow as tf
from PIL import Image
from sample_data import uint8_blob_images

from kerasae import evaluation
from kerasae import training
from kerasae import workdir as wd
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig

KINDS = ("image", "table", "series")


def write_table(path, n, seed, classes):
    rng = np.random.default_rng(seed)
    labels = rng.choice(classes, n)
    shift = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    values = rng.normal(size=(n, 5)) + 3 * labels[:, None] * shift
    with open(path, "w") as handle:
        handle.write("a,b,c,d,e,kind\n")
        for row, label in zip(values, labels):
            handle.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    return str(path)


def make_run(kind, folder):
    """Trains and evaluates one small run of `kind`; returns the workdir."""
    workdir = str(folder / kind)
    options = evaluation.EvalOptions(iwae_k=0, probes=False)
    if kind == "image":
        x, y = uint8_blob_images(256)
        np.savez(folder / "blobs.npz", x=x, y=y)
        model = ModelConfig(name="vae", hidden_units=(16,), latent_dim=2)
        data = DataConfig(dataset=str(folder / "blobs.npz"))
    elif kind == "table":
        model = ModelConfig(name="ae", hidden_units=(8,), latent_dim=2)
        data = DataConfig(dataset=write_table(folder / "normal.csv", 300, 0,
                                              [0, 1]),
                          label_column="kind", train_classes=(0, 1))
        options = evaluation.EvalOptions(
            iwae_k=0, probes=False, test_dataset=write_table(
                folder / "test.csv", 200, 1, [0, 1, 2]))
    else:
        values, _ = series_data.make_series(600, seed=11)
        model = ModelConfig(name="ae", arch="conv1d", hidden_units=(8,),
                            latent_dim=4)
        data = DataConfig(
            dataset=series_data.write_csv(folder / "train.csv", values),
            window=16, time_column="timestamp", label_column="anomaly")
        values, labels = series_data.make_series(
            400, seed=22, anomaly="spike", start=200)
        options = evaluation.EvalOptions(test_dataset=series_data.write_csv(
            folder / "spike.csv", values, labels))
    training.train(Config(model=model, data=data, train=TrainConfig(
        epochs=1, batch_size=64)), workdir, verbose=0)
    evaluation.evaluate_run(workdir, options)
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    return {kind: make_run(kind, folder) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_report_opens_in_a_browser(runs, kind, tmp_path):
    reason = headless_chromium.missing()
    if reason:
        pytest.skip(reason)
    workdir = runs[kind]
    metrics = wd.read_json(workdir, wd.METRICS)
    page = wd.path(workdir, wd.REPORT)
    with open(page, encoding="utf-8") as handle:
        source = handle.read()
    assert "<script src=" not in source and "<link " not in source
    shot = str(tmp_path / f"{kind}.png")
    seen = headless_chromium.open_page(page, shot)
    assert seen["errors"] == [] and seen["remote"] == [], seen
    assert sorted(i["alt"] for i in seen["images"]) == sorted(
        metrics["plots"])
    assert all(i["complete"] and i["width"] > 100 for i in seen["images"])
    text = seen["text"]
    assert "What was trained" in text and metrics["built"] in text
    assert f"{metrics['anomaly']['threshold']:.4g}" in text
    assert "Area under the ROC curve" in text or kind == "image"
    if kind == "series":
        assert seen["charts"] >= 1
        # One line through the ~385 scored steps: a long SVG path.
        assert max(seen["line_lengths"]) > 2000
    else:
        assert seen["charts"] == 0
    image = np.asarray(Image.open(shot).convert("L"), np.float32)
    assert image.shape[1] == 1200 and image.shape[0] > 1000
    assert image.std() > 10  # not a blank page


def test_tensorboard_holds_pictures_and_figures(runs):
    workdir = runs["image"]
    metrics = wd.read_json(workdir, wd.METRICS)
    folder = os.path.join(workdir, "logs", "evaluation")
    images, scalars = {}, {}
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(
                os.path.join(folder, name)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    images[value.tag] = (event.step, tensor)
                else:
                    scalars[value.tag] = (event.step, float(tensor))
    assert sorted(images) == sorted(
        f"evaluation/{n[:-4]}" for n in metrics["plots"])
    step, tensor = images["evaluation/reconstruction"]
    # width, height, then the PNG file itself.
    png = tf.image.decode_png(tensor[2])
    assert step == 1 and png.shape[0] == int(tensor[1]) > 50
    assert scalars["anomaly/threshold"] == (
        1, pytest.approx(metrics["anomaly"]["threshold"]))
    assert scalars["evaluation/mse"][1] == pytest.approx(
        metrics["evaluation"]["mse"])


def test_the_chart_reads_the_scoring_the_threshold_belongs_to(tmp_path):
    from kerasae.evaluation import report_series
    path = tmp_path / "scores.csv"
    path.write_text(
        "time,live_score,live_flagged,recorded_score,recorded_flagged,"
        "a_share,b_share,label\n"
        "t0,,0,0.5,0,0.2,0.8,0\n"
        "t1,2.0,1,0.25,0,0.5,0.5,1\n"
        "t2,1.0,0,3.0,1,0.9,0.1,0\n")
    x, name, score, flagged, labels = report_series.read_scores(
        path, "live")
    assert (x, name) == (["t0", "t1", "t2"], "time")
    assert score == [None, 2.0, 1.0] and flagged == [False, True, False]
    assert labels == [False, True, False]
    _, _, score, flagged, _ = report_series.read_scores(path, "recorded")
    assert score == [0.5, 0.25, 3.0] and flagged == [False, False, True]
    # No time and no label column: steps are numbered, no bands.
    path.write_text("live_score,live_flagged,recorded_score,"
                    "recorded_flagged\n,0,1.5,1\n")
    x, name, _, flagged, labels = report_series.read_scores(path)
    assert (x, name, flagged, labels) == ([0], "step", [True], None)
