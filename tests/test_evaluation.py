"""Evaluation metrics against closed forms, and `kerasae.evaluate` end to end.

The command-line tests run `python -m kerasae.evaluate` in a subprocess (as
a user would), on a tiny model trained on 8x8 blob images.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_train_script import finish

from kerasae import data as kae_data
from kerasae import evaluation
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.evaluation import anomaly

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_vae(latent_dim=3, seed=0):
    import keras
    keras.utils.set_random_seed(seed)
    return models.build(ModelConfig(
        name="vae", hidden_units=(16,), latent_dim=latent_dim,
        input_shape=(6,), reconstruction_loss="bce",
        output_activation="sigmoid"))


def test_reconstruction_metrics_closed_form():
    x = np.zeros((4, 10))
    result = evaluation.reconstruction_metrics(x, x + 0.1)
    assert result["mse"] == pytest.approx(0.01)
    assert result["psnr"] == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert result["bce"] == pytest.approx(-10 * np.log(0.9))
    # Standardized data: no cross-entropy, PSNR over the given range.
    wide = evaluation.reconstruction_metrics(x - 1, x + 1, (-2.0, 2.0))
    assert "bce" not in wide
    assert wide["psnr"] == pytest.approx(10 * np.log10(16 / 4))


def test_pca_baseline_equals_numpy_svd():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    test = rng.normal(size=(50, 12)) @ rng.normal(size=(12, 12))
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    basis = vt[:3].T
    expected = np.mean(((test - mean) - (test - mean) @ basis @ basis.T) ** 2)
    assert evaluation.pca_reconstruction_mse(train, test, 3) == \
        pytest.approx(expected, rel=1e-9)
    assert evaluation.pca_reconstruction_mse(train, test, 12) < 1e-20


def sharp_vae():
    """A VAE whose decoder depends strongly on z: a wide ELBO gap."""
    model = tiny_vae()
    for layer in model.decoder.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([4.0 * weights[0]] + weights[1:])
    return model


def test_iwae_bound_grows_with_k_and_sits_above_the_elbo():
    model = sharp_vae()
    x = np.random.default_rng(0).uniform(size=(200, 6)).astype("float32")
    elbo = -evaluation.negative_elbo(model, x, samples=50).mean()
    bounds = {k: evaluation.iwae_bound(model, x, k, samples_per_pass=256,
                                       batch_size=64).mean()
              for k in (10, 100)}
    # k = 1 is a one-sample ELBO estimate (Burda et al. 2016, Eq. 8): on
    # 10 draws per example its standard error is about 0.33 nats here.
    one = evaluation.iwae_bound(model, np.tile(x, (10, 1)), 1)
    assert one.mean() == pytest.approx(elbo, abs=1.0)
    # The bound then rises with k (their Theorem 1): here by ~10 nats.
    assert elbo + 5 < bounds[10] < bounds[100]


def test_iwae_bound_batching_is_exact(monkeypatch):
    model = sharp_vae()
    x = np.random.default_rng(1).uniform(size=(7, 6)).astype("float32")
    # With z fixed at the mean every weight is the same, so log p_k is
    # that one log weight for every k and every way of batching.
    monkeypatch.setattr(model, "sample_code", lambda mean, log_var: mean)
    mean, log_var = (np.asarray(t) for t in model.encode_distribution(x))
    p = 1 / (1 + np.exp(-np.asarray(model.decode_logits(mean))))
    log_px = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    log_pz = -0.5 * np.sum(np.log(2 * np.pi) + mean**2, axis=1)
    log_qz = -0.5 * np.sum(np.log(2 * np.pi) + log_var, axis=1)
    expected = log_px + log_pz - log_qz
    for k, per_pass, batch in ((1, 4096, 64), (37, 16, 3), (500, 50, 5)):
        np.testing.assert_allclose(
            evaluation.iwae_bound(model, x, k, per_pass, batch), expected,
            rtol=1e-5, atol=1e-4)


def test_active_units_counts_units_whose_mean_varies():
    model = tiny_vae(latent_dim=4)
    code = model.encoder.get_layer("code")
    kernel, bias = code.get_weights()
    kernel[:, 2:4] = 0.0  # the means of units 2 and 3 ignore the input
    bias[2:4] = 0.7
    kernel[:, :2] *= 20.0  # units 0 and 1 vary a lot across inputs
    code.set_weights([kernel, bias])
    x = np.random.default_rng(2).uniform(size=(300, 6)).astype("float32")
    count, variances = evaluation.active_units(model, x)
    assert count == 2
    assert np.all(variances[:2] > 0.01)
    np.testing.assert_allclose(variances[2:], 0.0, atol=1e-10)


def test_detect_on_a_one_class_model(tmp_path):
    import keras
    keras.utils.set_random_seed(0)
    x, y = blobs(600)
    x = (x / 255.0).astype("float32")[..., None]
    model = models.build(ModelConfig(
        name="ae", hidden_units=(32,), latent_dim=2, input_shape=(8, 8, 1),
        reconstruction_loss="bce", output_activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x[:400][y[:400] == 0], epochs=30, batch_size=32, verbose=0)
    test = kae_data.Split(x[400:], y[400:])
    bundle = kae_data.DataBundle(
        name="blobs", kind="image", train=kae_data.Split(x[:300]),
        validation=kae_data.Split(x[300:400], y[300:400]), test=test,
        input_shape=(8, 8, 1), preprocessing=None, unit_range=True,
        data_range=(0.0, 1.0), num_classes=2)
    result, scores, labels = anomaly.detect(
        model, bundle, evaluation.EvalOptions(score="squared_error"),
        str(tmp_path), normal_classes=(0,))
    # Class 1 blobs sit where the model never saw ink.
    assert result["auroc"] > 0.95
    assert labels.tolist() == (test.y != 0).astype(int).tolist()
    normal = scores[labels == 0]
    assert np.mean(normal > result["threshold"]) < 0.1
    combined, _, _ = anomaly.detect(
        model, bundle, evaluation.EvalOptions(
            score="reconstruction_and_code"), str(tmp_path), (0,))
    assert combined["auroc"] > 0.95
    with open(tmp_path / "threshold.json") as handle:
        stored = json.load(handle)
    assert stored["score"] == "reconstruction_and_code"
    assert len(stored["params"]["code_mean"]) == 2


# ------------------------------------------------------ command line
def blobs(n, seed=0):
    """8x8 images: class 0 a blob on the left half, class 1 on the right."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    grid = np.arange(8)
    rows = rng.uniform(1, 6, size=n)
    cols = np.where(y == 0, rng.uniform(1, 2.5, n), rng.uniform(4.5, 6, n))
    x = np.exp(-((grid[None, :, None] - rows[:, None, None]) ** 2
                 + (grid[None, None, :] - cols[:, None, None]) ** 2) / 3.0)
    return (255 * x).astype("uint8"), y


def train_run(tmp_path, name, labels=True, epochs=25, **model):
    x, y = blobs(400)
    path = tmp_path / f"blobs_{labels}.npz"
    if labels:
        np.savez(path, x=x, y=y)
    else:
        np.savez(path, x=x)
    config = Config(
        model=ModelConfig(name=name, hidden_units=(32,), latent_dim=2,
                          **model),
        data=DataConfig(dataset=str(path)),
        train=TrainConfig(epochs=epochs, batch_size=32, learning_rate=3e-3))
    workdir = str(tmp_path / f"run_{name}_{labels}")
    training.train(config, workdir, verbose=0)
    return workdir


def start_cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        [sys.executable, "-m", "kerasae.evaluate", *args], cwd=REPO,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_cli(*args):
    return finish(start_cli(*args))


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("vae"), "vae")


def test_cli_merges_metrics_writes_threshold_and_plots(vae_run):
    with open(os.path.join(vae_run, "metrics.json")) as handle:
        before = json.load(handle)
    done = run_cli(f"--workdir={vae_run}", "--normal_classes=0",
                   "--iwae_k=20", "--threshold_method=mean_std")
    assert done.returncode == 0, done.stderr
    with open(os.path.join(vae_run, "metrics.json")) as handle:
        after = json.load(handle)
    for key, value in before.items():  # nothing training wrote is lost
        assert after[key] == value
    ev, an = after["evaluation"], after["anomaly"]
    assert ev["mse"] > 0 and ev["pca_mse"] > 0 and 0 <= ev["active_units"]
    assert ev["iwae_nll_k20"] <= ev["neg_elbo"] + 1.0
    assert 0 <= an["auroc"] <= 1 and 0 <= an["f1"] <= 1
    with open(os.path.join(vae_run, "threshold.json")) as handle:
        stored = json.load(handle)
    # Calibrated on the normal (class 0) validation examples only.
    assert 0 < stored["calibration_examples"] < ev["num_examples"]
    # The default score (auto), with its fitted parameters for the export.
    assert stored["score"] == an["score"] == "reconstruction_and_code"
    assert len(stored["params"]["code_mean"]) == 2
    assert stored["method"] == "mean_std"
    assert stored["threshold"] == pytest.approx(an["threshold"])
    assert set(after["plots"]) >= {"reconstruction.png", "codes.png",
                                   "samples.png", "anomaly_scores.png"}


BAD_FLAGS = [
    (["--score=likelihood"], "error: --score='likelihood' is not one of"),
    (["--threshold_method=median"],
     "error: --threshold_method='median' is not one of"),
    (["--quantile=2"], "error: --quantile=2.0: must lie strictly"),
    (["--normal_classes=zero"], "error: --normal_classes=zero: give"),
    (["--probe_examples=-1"], "error: --probe_examples=-1: must be >= 0"),
]


@pytest.fixture(scope="module")
def bad_flag_runs(vae_run):
    """Each bad flag's own `kerasae.evaluate` process, all run at once
    (each spends its time importing TensorFlow on one core)."""
    processes = {tuple(args): start_cli(f"--workdir={vae_run}", *args)
                 for args, _ in BAD_FLAGS}
    return {args: finish(p) for args, p in processes.items()}


@pytest.mark.parametrize("args, message", BAD_FLAGS)
def test_cli_bad_flag_values(bad_flag_runs, args, message):
    done = bad_flag_runs[tuple(args)]
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(message)


def test_cli_workdir_without_model(tmp_path):
    done = run_cli(f"--workdir={tmp_path}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: --workdir={tmp_path} holds no trained model (no "
        "config.json and model.keras); run train.py with this --workdir "
        "first")


def test_cli_normal_classes_without_labels(tmp_path):
    # Any trained model will do: the refusal is about the data.
    workdir = train_run(tmp_path, "ae", labels=False, epochs=1)
    done = run_cli(f"--workdir={workdir}", "--normal_classes=0",
                   "--noplots")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: --normal_classes needs labels")


def test_train_classes_end_to_end_on_mnist(shared_tfds, tmp_path):
    """train.py --train_classes=0,6, then evaluate: the rest are anomalies."""
    workdir = str(tmp_path / "one_class")
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "train.py", "--model=ae", "--hidden_units=32",
         "--latent_dim=4", "--epochs=1", "--steps_per_epoch=20",
         "--train_classes=0,6", f"--data_dir={shared_tfds}",
         f"--workdir={workdir}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Without the probes (tests/test_probes.py covers them): on MNIST they
    # took most of this test's time. The evaluation runs while this
    # process reads the same data.
    evaluating = start_cli(f"--workdir={workdir}", "--noplots",
                           "--noprobes")
    config, _, _ = training.load_run(workdir)
    assert config.data.train_classes == (0, 6)
    bundle = kae_data.load(config.data, seed=config.train.seed)
    done = finish(evaluating)
    assert set(np.unique(bundle.train.y)) == {0, 6}
    assert set(np.unique(bundle.validation.y)) == {0, 6}
    assert len(np.unique(bundle.test.y)) == 10  # the test split stays whole
    assert done.returncode == 0, done.stderr
    with open(os.path.join(workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert "features" not in metrics["evaluation"]
    assert metrics["anomaly"]["normal_classes"] == [0, 6]
    assert metrics["anomaly"]["anomaly_fraction"] == pytest.approx(
        np.mean(~np.isin(bundle.test.y, [0, 6])))
    assert metrics["anomaly"]["auroc"] > 0.6
