"""Every picture is a real, non-blank PNG image."""

import csv

import numpy as np
import pytest
from PIL import Image
from sample_data import blob_images

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.data import DataBundle
from kerasae.data import Split
from kerasae.evaluation import plots


def assert_picture(path):
    """Opens `path` with PIL: a non-empty image with some pixel variance."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width > 20 and image.height > 20
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 1.0, f"{path} is blank"


def images(n=40, seed=0):
    return blob_images(n, seed, classes=3)


def build(name, shape=(8, 8, 1), **kwargs):
    return models.build(ModelConfig(
        name=name, hidden_units=(16,), latent_dim=kwargs.pop("latent", 3),
        input_shape=shape, reconstruction_loss="bce",
        output_activation="sigmoid", **kwargs))


def test_image_pictures(tmp_path):
    x, y = images()
    model = build("ae")
    x_hat = np.asarray(model(x))
    written = [
        plots.reconstruction_grid(x, x_hat, str(tmp_path / "r.png")),
        plots.denoising_rows(1 - x, x, x_hat, str(tmp_path / "d.png")),
        plots.code_map(np.asarray(model.encode(x)), str(tmp_path / "c.png"),
                       y),
        plots.interpolation(model, x[0], x[1], str(tmp_path / "i.png")),
        plots.score_histogram(np.linspace(0, 1, 40), 0.8,
                              str(tmp_path / "h.png"), labels=y > 1),
    ]
    for path in written:
        assert_picture(path)


def test_code_map_projects_above_two_dimensions(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(100, 5)) * [10, 1, 0.1, 0.1, 0.1]
    projected = plots.pca_2d(codes)
    assert projected.shape == (100, 2)
    # The first principal axis carries the largest variance.
    assert projected[:, 0].var() == pytest.approx(
        np.linalg.svd(codes - codes.mean(0), compute_uv=False)[0] ** 2
        / 100)
    np.testing.assert_array_equal(plots.pca_2d(codes[:, :2]), codes[:, :2])
    assert_picture(plots.code_map(codes[:, :2], str(tmp_path / "c2.png")))


@pytest.mark.parametrize("name", ["vae", "aae", "gan"])
def test_sample_grid_of_generative_models(tmp_path, name):
    if name not in models.MODELS.names():
        pytest.skip(f"{name} is not registered")
    model = build(name)
    path = plots.sample_grid(model, 4, str(tmp_path / f"{name}.png"))
    assert_picture(path)


def test_training_curves_from_history_csv(tmp_path):
    history = tmp_path / "history.csv"
    with open(history, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "mse", "val_loss", "val_mse"])
        for epoch in range(5):
            writer.writerow([epoch, 10 / (epoch + 1), 1 / (epoch + 1),
                             11 / (epoch + 1), 1.2 / (epoch + 1)])
    assert_picture(plots.training_curves(str(history),
                                         str(tmp_path / "curves.png")))


def test_tabular_reconstructions_are_profiles(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 12)).astype("float32")
    assert_picture(plots.reconstruction_grid(x, x * 0.8,
                                             str(tmp_path / "t.png"), n=4))


def test_plot_run_draws_everything_for_a_dae(tmp_path):
    x, y = images(60)
    model = build("dae", noise="masking", noise_level=0.3)
    bundle = DataBundle(
        name="blobs", kind="image", train=Split(x[:30], y[:30]),
        validation=Split(x[30:40], y[30:40]), test=Split(x[40:], y[40:]),
        input_shape=(8, 8, 1), preprocessing=None, unit_range=True,
        data_range=(0.0, 1.0), num_classes=3)
    scores = np.random.default_rng(0).gamma(2.0, size=20)
    written = plots.plot_run(model, bundle, str(tmp_path), scores, 3.0,
                             labels=(y[40:] > 0).astype(int))
    assert set(written) == {"reconstruction.png", "denoising.png",
                            "codes.png", "interpolation.png",
                            "anomaly_scores.png"}
    for name in written:
        assert_picture(str(tmp_path / "plots" / name))


@pytest.mark.parametrize("name", sorted(models.MODELS.names()))
def test_evaluate_run_draws_real_pictures_for_every_model(tmp_path, name):
    from kerasae import evaluation
    from kerasae import training
    from kerasae.config import Config
    from kerasae.config import DataConfig
    from kerasae.config import TrainConfig

    x, y = images(200)
    np.savez(tmp_path / "blobs.npz", x=(255 * x).astype("uint8"), y=y)
    config = Config(
        model=ModelConfig(name=name, hidden_units=(16,), latent_dim=2),
        data=DataConfig(dataset=str(tmp_path / "blobs.npz")),
        train=TrainConfig(epochs=1, batch_size=32))
    workdir = str(tmp_path / "run")
    training.train(config, workdir, verbose=0)
    metrics = evaluation.evaluate_run(
        workdir, evaluation.EvalOptions(normal_classes=(0,), iwae_k=5))
    expected = {"training_curves.png"}
    if name != "gan":
        expected |= {"reconstruction.png", "codes.png", "anomaly_scores.png"}
        assert 0 <= metrics["anomaly"]["auroc"] <= 1
    if name in ("vae", "aae", "gan"):
        expected.add("samples.png")
    if name == "dae":
        expected.add("denoising.png")
    assert set(metrics["plots"]) >= expected
    for picture in metrics["plots"]:
        assert_picture(str(tmp_path / "run" / "plots" / picture))
