"""Series end to end: train on a clean log, score labelled test files.

One small conv1d autoencoder is trained on a clean generated two-sensor
log; each of three test files holds one injected anomaly (a jump, a flat
stretch inside the normal range, a spike) in the first sensor. What must
hold:

- point-wise AUROC >= 0.95 on every file under the recorded scoring (the
  default), and its highest step score falls inside the anomaly; the live
  scoring's falls in the anomaly or in the `window - 1` steps after it (a
  live step's score is that of the window ending at it);
- a one-step spike scores highest at its own step under recorded
  scoring, and within the window after it under live scoring;
- `scores.csv` has one row per step, both scorings, and each sensor's
  share of the recorded score, which names the first sensor on its
  anomaly; the exported SavedModel `score` signature, given the raw window
  ending at a step, returns that step's live score and `is_anomaly`, and
  `score_series`, given the raw file `[T, features]`, returns the recorded
  scores of `scores.csv` to 1e-5;
- `--window=auto` takes the training series' period;
- TFLite encoder and decoder of conv1d and lstm models match Keras.
"""

import csv
import dataclasses
import json
import os
import re

import numpy as np
import pytest
import series_data
import tensorflow as tf

from kerasae import evaluation
from kerasae import export
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.data import period
from kerasae.data.series import Series
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.evaluation import plots_series
from kerasae.export.litert_runner import LiteRTModel

WINDOW = 48
STARTS = {"jump": 500, "flat": 300, "spike": 650}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    values, _ = series_data.make_series(2400, seed=11)
    train_csv = series_data.write_csv(folder / "train.csv", values)
    config = Config(
        model=ModelConfig(name="ae", arch="conv1d", hidden_units=(32, 16),
                          latent_dim=16),
        data=DataConfig(dataset=train_csv, window=WINDOW,
                        time_column="timestamp", label_column="anomaly"),
        train=TrainConfig(epochs=12, batch_size=64, seed=0))
    workdir = str(folder / "run")
    training.train(config, workdir, verbose=0)
    return folder, workdir


def scored(run, kind, length=None):
    folder, workdir = run
    values, labels = series_data.make_series(
        1000, seed=21 + len(kind), anomaly=kind, start=STARTS[kind],
        length=length)
    path = series_data.write_csv(folder / f"{kind}.csv", values, labels)
    metrics = evaluation.evaluate_run(workdir, evaluation.EvalOptions(
        test_dataset=path, plots=kind == "jump"))
    with open(os.path.join(workdir, "scores.csv")) as handle:
        rows = list(csv.DictReader(handle))
    return metrics["anomaly"], rows, values, labels


def column(rows, name):
    return np.array([float(r[name]) if r[name] else np.nan for r in rows])


@pytest.mark.parametrize("kind", series_data.KINDS)
def test_each_anomaly_is_found(run, kind):
    report, rows, values, labels = scored(run, kind)
    assert report["scoring"] == "recorded"
    assert report["auroc"] == report["recorded"]["auroc"] >= 0.95, report
    assert report["top_score_hit"] and 0 < report["vus_pr"] <= 1
    first, last = np.flatnonzero(labels)[[0, -1]]
    top = int(np.argmax(column(rows, "recorded_score")))
    assert first <= top <= last, (top, first, last)
    top = int(np.nanargmax(column(rows, "live_score")))
    assert first <= top <= last + WINDOW - 1, (top, first, last)
    # Normal test steps, unseen by calibration, are rarely flagged.
    assert report["recorded"]["fpr_normal_windows"] < 0.02, report
    assert report["live"]["fpr_normal_windows"] < 0.01, report
    assert set(report["live"]["rules"]) >= {
        "calibrated", "max_train_error", "mean_plus_std"}
    # The anomaly is in the first sensor: its share says so.
    share = column(rows, "temperature_share")
    assert share[labels == 1].mean() > 0.7, share[labels == 1]


def test_one_step_spike_scores_highest_at_its_step(run):
    report, rows, values, labels = scored(run, "spike", length=1)
    spike = int(np.flatnonzero(labels)[0])
    assert int(np.argmax(column(rows, "recorded_score"))) == spike
    live_top = int(np.nanargmax(column(rows, "live_score")))
    assert spike <= live_top <= spike + WINDOW - 1


def test_scores_csv_and_exported_score_agree(run, tmp_path):
    report, rows, values, labels = scored(run, "jump")
    values = np.round(values, 5)  # as the CSV holds them
    _, workdir = run
    assert list(rows[0]) == [
        "timestamp", "live_score", "live_flagged", "recorded_score",
        "recorded_flagged", "temperature_share", "pressure_share",
        "anomaly"]
    assert len(rows) == len(values)
    assert all(r["live_score"] == "" for r in rows[:WINDOW - 1])
    assert rows[WINDOW - 1]["live_score"] != ""
    assert [int(r["anomaly"]) for r in rows] == list(labels)
    assert os.path.exists(os.path.join(workdir, "plots",
                                       "series_scores.png"))
    threshold = json.load(open(os.path.join(workdir, "threshold.json")))
    assert threshold["window"] == WINDOW
    assert threshold["threshold"] == pytest.approx(
        report["live"]["threshold"])
    assert threshold["recorded"]["threshold"] == pytest.approx(
        report["threshold"])

    result = export.export(workdir, str(tmp_path / "export"), name="s")
    served = tf.saved_model.load(result["saved_model"])
    ends = np.array([WINDOW - 1, 400, STARTS["jump"] + 10, 999])
    windows = np.stack([values[e - WINDOW + 1:e + 1] for e in ends])
    out = served.signatures["score"](x=tf.constant(windows, tf.float32))
    np.testing.assert_allclose(
        out["score"].numpy(), [float(rows[e]["live_score"]) for e in ends],
        rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(
        out["is_anomaly"].numpy(),
        [rows[e]["live_flagged"] == "1" for e in ends])
    # The whole raw log in one call: the recorded scores of scores.csv.
    whole = served.signatures["score_series"](
        x=tf.constant(values, tf.float32))
    np.testing.assert_allclose(whole["score"].numpy(),
                               column(rows, "recorded_score"), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(
        whole["is_anomaly"].numpy(),
        [r["recorded_flagged"] == "1" for r in rows])
    np.testing.assert_allclose(whole["feature_share"].numpy()[:, 0],
                               column(rows, "temperature_share"), atol=1e-4)
    reconstruction = served.signatures["serving_default"](
        x=tf.constant(windows, tf.float32))["reconstruction"]
    assert tuple(reconstruction.shape) == (4, WINDOW, 2)
    encoder = LiteRTModel(next(p for p in result["tflite"]
                               if p.endswith("encoder.tflite")))
    code = served.signatures["encode"](x=tf.constant(windows, tf.float32))
    np.testing.assert_allclose(encoder.encode(windows.astype("float32"))[
        "code"], code["code"].numpy(), atol=1e-4)


def test_test_file_with_other_columns_is_refused(run, tmp_path):
    _, workdir = run
    other = tmp_path / "other.csv"
    other.write_text("timestamp,temperature,anomaly\n"
                     "2024-01-01T00:00:00,1.0,0\n")
    with pytest.raises(DataError, match="--test_dataset=.*differ from the "
                       "training file's \\(temperature, pressure\\)"):
        evaluation.evaluate_run(workdir, evaluation.EvalOptions(
            test_dataset=str(other)))


def test_lstm_tflite_matches_keras(tmp_path):
    values, _ = series_data.make_series(300, seed=5)
    path = series_data.write_csv(tmp_path / "log.csv", values)
    config = Config(
        model=ModelConfig(name="ae", arch="lstm", hidden_units=(8,),
                          latent_dim=4),
        data=DataConfig(dataset=path, window=16, time_column="timestamp"),
        train=TrainConfig(epochs=1, batch_size=32, steps_per_epoch=3))
    workdir = str(tmp_path / "run")
    training.train(config, workdir, verbose=0)
    result = export.export(workdir, str(tmp_path / "export"), name="s")
    _, model, pre = training.load_run(workdir)
    windows = np.stack([values[i:i + 16] for i in range(0, 200, 20)]
                       ).astype("float32")
    code = np.asarray(model.encode(pre.apply(windows)))
    lite = {os.path.basename(p).split(".")[0]: LiteRTModel(p)
            for p in result["tflite"] if p.endswith(".tflite")}
    np.testing.assert_allclose(lite["encoder"].encode(windows)["code"],
                               code, atol=1e-5)
    np.testing.assert_allclose(lite["decoder"].decode(code),
                               pre.invert(np.asarray(model.decode(code))),
                               atol=1e-5)


def test_auto_window_finds_the_period(tmp_path):
    steps = np.arange(3000)
    rng = np.random.default_rng(3)
    sine = np.sin(2 * np.pi * steps / 37.0) + 0.2 * rng.standard_normal(
        3000)
    assert abs(period.dominant_period(sine) - 37) <= 3.7
    assert period.dominant_period(rng.standard_normal(3000)) is None
    path = tmp_path / "sine.npy"
    np.save(path, sine[:, None].astype("float32"))
    config = Config(
        model=ModelConfig(name="ae", arch="conv1d", hidden_units=(8,),
                          latent_dim=4),
        data=DataConfig(dataset=str(path), window="auto"),
        train=TrainConfig(epochs=1, batch_size=64, steps_per_epoch=2))
    workdir = str(tmp_path / "run")
    metrics = training.train(config, workdir, verbose=0)
    saved = json.load(open(os.path.join(workdir, "config.json")))
    assert abs(saved["data"]["window"] - 37) <= 3.7
    assert "dominant period" in metrics["window_auto"]
    with pytest.raises(ConfigError, match="--window=often: give a number"):
        training.train(dataclasses.replace(config, data=dataclasses.replace(
            config.data, window="often")), workdir, verbose=0)


def test_long_series_picture_keeps_a_one_step_spike(tmp_path):
    steps = 12_000
    values, _ = series_data.make_series(steps)
    scores = np.abs(np.random.default_rng(0).normal(size=steps))
    scores[7777] = 50.0
    _, low, high = plots_series.envelope(scores)
    assert len(high) <= plots_series.MAX_POINTS and high.max() == 50.0
    flagged = scores > 3
    source = Series(name="long", values=values.astype("float32"),
                    feature_names=("a", "b"))
    path = plots_series.series_scores(str(tmp_path / "long.png"), source,
                                      scores, 3.0, flagged)
    assert os.path.getsize(path) > 10_000
    assert plots_series.runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]


def test_docs_streaming_blocks_run(run, tmp_path, monkeypatch):
    """The Python blocks of docs/series.md: a live stream, a whole log."""
    _, workdir = run
    with pytest.raises(ConfigError, match="--series_scoring='both' is not "
                       "one of: auto, live, recorded"):
        evaluation.evaluate_run(workdir, evaluation.EvalOptions(
            series_scoring="both"))
    metrics = evaluation.evaluate_run(workdir, evaluation.EvalOptions(
        score="squared_error", plots=False, series_scoring="live"))
    assert metrics["anomaly"]["scoring"] == "live"
    assert metrics["anomaly"]["threshold"] == \
        metrics["anomaly"]["live"]["threshold"]
    monkeypatch.chdir(tmp_path)
    export.export(workdir, "serving", name="sensors")
    docs = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "docs", "series.md")
    blocks = re.findall(r"```python\n(.*?)```", open(docs).read(), re.S)
    assert len(blocks) == 3
    namespace = {}
    exec(compile(blocks[0], "docs/series.md block 1", "exec"), namespace)
    values, _ = series_data.make_series(60, seed=8)
    results = [namespace["on_reading"](row) for row in values]
    assert results[:WINDOW - 1] == [None] * (WINDOW - 1)
    score, is_anomaly = results[-1]
    exec(compile(blocks[1], "docs/series.md block 2", "exec"), namespace)
    # The device's squared error is the served score of the same window.
    assert namespace["error"] == pytest.approx(score, rel=1e-4)
    threshold = json.load(open(os.path.join(workdir, "threshold.json")))
    assert is_anomaly == (score > threshold["threshold"])
    namespace["log"] = values
    exec(compile(blocks[2], "docs/series.md block 3", "exec"), namespace)
    assert namespace["scores"].shape == (60,)
    assert set(namespace["sensor"]) <= {0, 1}

