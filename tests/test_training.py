"""`kerasae.training.train` end to end on tiny data: the workdir it fills,
resuming, refusing a different config, and repeatability."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sample_data import blob_images
from training_callbacks import CountEpochs
from training_callbacks import StopAfter

from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.errors import WorkdirError


def tiny_config(dataset, name="ae", **train):
    return Config(
        model=ModelConfig(name=name, hidden_units=(32,), latent_dim=4),
        data=DataConfig(dataset=dataset),
        train=TrainConfig(epochs=2, batch_size=32, **train),
    )


def test_train_fills_the_workdir(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    metrics = training.train(tiny_config(npz_path), workdir, verbose=0)
    for name in ("config.json", "preprocessing.json", "model.keras",
                 "metrics.json", "history.csv", "logs", "checkpoints"):
        assert os.path.exists(os.path.join(workdir, name)), name
    # The source has no test split, so metrics are on the validation split.
    assert metrics["eval_split"] == "validation"
    on_disk = json.load(open(os.path.join(workdir, "metrics.json")))
    assert on_disk["validation"]["mse"] == metrics["validation"]["mse"]
    assert on_disk["model"] == "ae" and on_disk["epochs"] == 2
    config = json.load(open(os.path.join(workdir, "config.json")))
    # Data-dependent fields are resolved and recorded.
    assert config["model"]["input_shape"] == [8, 8, 1]
    assert config["model"]["reconstruction_loss"] == "bce"
    assert config["model"]["output_activation"] == "sigmoid"
    _, model, pre = training.load_run(workdir)
    x, _ = blob_images(4, seed=5)
    assert model(x).shape == (4, 8, 8, 1)
    np.testing.assert_allclose(pre.invert(pre.apply(x)), x, atol=1e-6)


def test_vae_metrics_on_the_test_split_under_mock_tfds(tmp_path,
                                                      monkeypatch):
    # Under mock_data nothing is downloaded, so the offline check must pass.
    from kerasae.data import tfds_reader
    monkeypatch.setattr(tfds_reader, "network_reachable", lambda: True)
    config = dataclasses.replace(
        tiny_config("mnist", name="vae"),
        train=TrainConfig(epochs=1, batch_size=32, steps_per_epoch=3))
    with tfds.testing.mock_data(num_examples=96):
        metrics = training.train(config, str(tmp_path / "run"), verbose=0)
    test = metrics["test"]
    assert metrics["eval_split"] == "test" and metrics["dataset"] == "mnist"
    # The negative ELBO is the reconstruction NLL plus the KL, in nats.
    assert test["neg_elbo"] == pytest.approx(
        test["reconstruction"] + test["kl"], rel=1e-4)
    assert 0 < test["mse"] < 1 and test["kl"] >= 0


def test_interrupted_training_resumes_where_it_stopped(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    config = dataclasses.replace(
        tiny_config(npz_path), train=TrainConfig(epochs=4, batch_size=32))
    with pytest.raises(KeyboardInterrupt):
        training.train(config, workdir, callbacks=[StopAfter(2)], verbose=0)
    assert not os.path.exists(os.path.join(workdir, "model.keras"))
    counter = CountEpochs()
    training.train(config, workdir, callbacks=[counter], verbose=0)
    assert counter.epochs == [2, 3]
    assert os.path.exists(os.path.join(workdir, "metrics.json"))


def test_different_config_in_existing_workdir_is_refused(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    training.train(tiny_config(npz_path), workdir, verbose=0)
    before = open(os.path.join(workdir, "metrics.json")).read()
    other = dataclasses.replace(
        tiny_config(npz_path), train=TrainConfig(epochs=3, batch_size=32))
    with pytest.raises(WorkdirError,
                       match=r"train\.epochs: 2 -> 3.*--overwrite"):
        training.train(other, workdir, verbose=0)
    assert open(os.path.join(workdir, "metrics.json")).read() == before
    # Asked explicitly, the old run is replaced.
    metrics = training.train(other, workdir, overwrite=True, verbose=0)
    assert metrics["epochs"] == 3


def test_finished_run_is_not_trained_again(npz_path, tmp_path, capsys):
    workdir = str(tmp_path / "run")
    first = training.train(tiny_config(npz_path), workdir, verbose=0)
    counter = CountEpochs()
    again = training.train(tiny_config(npz_path), workdir,
                           callbacks=[counter], verbose=0)
    assert counter.epochs == [] and again == first
    assert "already holds this finished run" in capsys.readouterr().out


def test_same_seed_gives_same_metrics(npz_path, tmp_path):
    a = training.train(tiny_config(npz_path, name="vae", seed=3),
                       str(tmp_path / "a"), verbose=0)
    b = training.train(tiny_config(npz_path, name="vae", seed=3),
                       str(tmp_path / "b"), verbose=0)
    c = training.train(tiny_config(npz_path, name="vae", seed=4),
                       str(tmp_path / "c"), verbose=0)
    for metrics in (a, b, c):
        metrics.pop("train_seconds")
    assert a == b
    assert a["validation"]["loss"] != c["validation"]["loss"]


def test_bernoulli_likelihood_is_refused_for_standardized_data(tmp_path):
    path = tmp_path / "sensors.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,c"] + [",".join(f"{v:.3f}" for v in rng.normal(
        50, 10, size=3)) for _ in range(40)]
    path.write_text("\n".join(rows) + "\n")
    config = tiny_config(str(path))
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, reconstruction_loss="bce"))
    with pytest.raises(ConfigError, match="use --reconstruction_loss=mse"):
        training.train(config, str(tmp_path / "run"), verbose=0)
    # With the default, the loss resolves to mse and training works.
    metrics = training.train(tiny_config(str(path)), str(tmp_path / "ok"),
                             verbose=0)
    assert np.isfinite(metrics["validation"]["mse"])


def test_batch_must_divide_across_replicas(npz_path, tmp_path, monkeypatch):
    class FakeStrategy:
        num_replicas_in_sync = 3

    monkeypatch.setattr(training.distribute, "get_strategy",
                        lambda *a, **k: FakeStrategy())
    with pytest.raises(ConfigError, match="multiple of 3"):
        training.train(tiny_config(npz_path), str(tmp_path / "r"), verbose=0)


def test_workdir_that_is_a_file_is_refused(npz_path, tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    with pytest.raises(WorkdirError, match="is a file"):
        training.train(tiny_config(npz_path), str(target), verbose=0)
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("steps_per_epoch, expected", [
    (None, 20), (5, 5), (25, 5), (7, 7), (40, 20), (23, 1)])
def test_execution_steps_divide_the_epoch(steps_per_epoch, expected):
    t = TrainConfig(steps_per_execution=20, steps_per_epoch=steps_per_epoch)
    assert training.execution_steps(t) == expected


def test_steps_per_epoch_trains_exactly_that_many_steps(npz_path, tmp_path):
    # 25 is not a multiple of the default 20 steps per execution; Keras
    # alone would train 40 steps an epoch here.
    workdir = str(tmp_path / "run")
    config = tiny_config(npz_path, steps_per_epoch=25)
    training.train(config, workdir, verbose=0)
    _, model, _ = training.load_run(workdir)
    assert int(model.optimizer.iterations) == 2 * 25


def test_summary_names_a_bfloat16_training(capsys, tmp_path):
    metrics = {"model": "vae", "dataset": "mnist", "epochs": 1,
               "eval_split": "test", "test": {"loss": 1.0},
               "matmul_precision": "bfloat16"}
    training.print_summary(str(tmp_path), metrics)
    assert "trained with bfloat16 matmuls" in capsys.readouterr().out
    training.print_summary(str(tmp_path), dict(metrics,
                                               matmul_precision="float32"))
    assert "matmuls" not in capsys.readouterr().out


def test_a_run_written_before_a_field_existed_is_recognised(npz_path,
                                                           tmp_path):
    workdir = str(tmp_path / "run")
    config = tiny_config(npz_path)
    first = training.train(config, workdir, verbose=0)
    path = os.path.join(workdir, "config.json")
    written = json.load(open(path))
    del written["train"]["matmul_precision"]  # as the first version wrote
    json.dump(written, open(path, "w"))
    # The same run is recognised as finished, not refused as another.
    again = training.train(config, workdir, verbose=0)
    assert again == first
    # A real difference is still refused.
    other = dataclasses.replace(
        config, train=dataclasses.replace(config.train, batch_size=16))
    with pytest.raises(WorkdirError, match="batch_size: 32 -> 16"):
        training.train(other, workdir, verbose=0)
