"""Every picture is a Figure with the expected axes, and a real PNG."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from sample_data import blob_images

from kerasae import models
from kerasae.config import ModelConfig
from kerasae.data import DataBundle
from kerasae.data import Split
from kerasae.errors import ConfigError
from kerasae.evaluation import plots
from kerasae.evaluation import plots_latent

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def image_axes(fig):
    """The axes of `fig` that hold an image (colour bars excluded)."""
    return [ax for ax in fig.axes if ax.images]


def shown(ax):
    """The array an axes' (only) image draws."""
    return np.asarray(ax.images[0].get_array())


def test_reconstruction_grid_is_inputs_over_outputs(tmp_path):
    x, _ = images()
    x_hat = 1 - x
    fig = plots.reconstruction_grid(x, x_hat, n=6)
    assert isinstance(fig, Figure)
    axes = image_axes(fig)
    assert len(axes) == len(fig.axes) == 12
    np.testing.assert_allclose(shown(axes[0]), x[0, ..., 0])
    np.testing.assert_allclose(shown(axes[6]), x_hat[0, ..., 0])
    assert axes[0].get_ylabel() == "input"
    assert axes[6].get_ylabel() == "output"
    assert_picture(plots.save(fig, str(tmp_path / "sub" / "r.png")))


def test_denoising_rows_have_three_labelled_rows():
    x, _ = images()
    fig = plots.denoising_rows(1 - x, x, x * 0.5, n=4)
    assert len(image_axes(fig)) == 12
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8)] == [
        "noisy", "clean", "denoised"]
    np.testing.assert_allclose(shown(fig.axes[8]), 0.5 * x[0, ..., 0])


def test_code_map_colours_each_class(tmp_path):
    x, y = images()
    model = build("ae")
    fig = plots.code_map(np.asarray(model.encode(x)), y)
    (ax,) = fig.axes
    assert len(ax.collections) == len(np.unique(y))
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "0", "1", "2"]
    # Three code dimensions: drawn on their principal axes.
    assert ax.get_xlabel() == "PC 1"
    assert_picture(plots.save(fig, str(tmp_path / "c.png")))


def test_interpolation_row_starts_and_ends_with_the_inputs():
    x, _ = images()
    model = build("ae")
    fig = plots.interpolation(model, x[0], x[1], steps=5)
    axes = image_axes(fig)
    assert len(axes) == 7
    np.testing.assert_allclose(shown(axes[0]), x[0, ..., 0])
    np.testing.assert_allclose(shown(axes[-1]), x[1, ..., 0])
    # The first decoded point is the reconstruction of x_a.
    np.testing.assert_allclose(shown(axes[1]),
                               np.asarray(model(x[:1]))[0, ..., 0],
                               atol=1e-5)


def test_score_histogram_marks_the_threshold(tmp_path):
    _, y = images()
    fig = plots.score_histogram(np.linspace(0, 1, 40), 0.8, labels=y > 1,
                                score_name="squared_error")
    (ax,) = fig.axes
    assert list(ax.lines[0].get_xdata()) == [0.8, 0.8]
    assert ax.get_xlabel() == "squared_error"
    assert len(ax.containers) == 2  # anomalous and normal histograms
    assert_picture(plots.save(fig, str(tmp_path / "h.png")))


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
    fig = plots.code_map(codes[:, :2])
    assert fig.axes[0].get_xlabel() == "z 1"
    assert_picture(plots.save(fig, str(tmp_path / "c2.png")))


@pytest.mark.parametrize("name", ["vae", "aae", "gan"])
def test_sample_grid_of_generative_models(tmp_path, name):
    if name not in models.MODELS.names():
        pytest.skip(f"{name} is not registered")
    model = build(name)
    fig = plots.sample_grid(model, 4)
    (ax,) = fig.axes
    assert shown(ax).shape == (4 * 8, 4 * 8)
    assert ax.get_title() == f"{name}: samples"
    assert_picture(plots.save(fig, str(tmp_path / f"{name}.png")))


def test_sample_grid_refuses_a_model_without_a_prior():
    with pytest.raises(ConfigError, match="needs a generative model .*'ae'"):
        plots.sample_grid(build("ae"), 3)


def test_interpolation_refuses_a_model_without_an_encoder():
    x, _ = images(2)
    with pytest.raises(ConfigError,
                       match="needs a model with an encoder; the 'gan'"):
        plots.interpolation(build("gan"), x[0], x[1])


def test_decoded_grid_refuses_tabular_examples():
    model = build("aae", shape=(12,))
    with pytest.raises(ConfigError, match=r"image grids need .* \(12,\)"):
        plots_latent.plot_decoded_grid(model, n=3)


def test_latent_pictures_of_an_adversarial_autoencoder():
    model = build("aae", latent=2, prior="mixture", num_classes=3)
    x, y = images(50)
    fig = plots_latent.plot_codes(model, x, y)
    # Codes, prior samples, and the label colour bar.
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        "codes q(z) of the test set", "prior samples p(z)"]
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    fig = plots_latent.plot_decoded_grid(model, n=5)
    assert shown(fig.axes[0]).shape == (5 * 8, 5 * 8)


def test_training_curves_from_history_csv(tmp_path):
    history = tmp_path / "history.csv"
    with open(history, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "mse", "val_loss", "val_mse"])
        for epoch in range(5):
            writer.writerow([epoch, 10 / (epoch + 1), 1 / (epoch + 1),
                             11 / (epoch + 1), 1.2 / (epoch + 1)])
    fig = plots.training_curves(str(history))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mse"]
    train, validation = fig.axes[0].lines
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(validation.get_ydata()[0], 11.0)
    assert_picture(plots.save(fig, str(tmp_path / "curves.png")))


def test_tabular_reconstructions_are_profiles(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 12)).astype("float32")
    fig = plots.reconstruction_grid(x, x * 0.8, n=4)
    assert len(fig.axes) == 4 and not image_axes(fig)
    original, output = fig.axes[0].lines
    np.testing.assert_allclose(output.get_ydata(), 0.8 * x[0], rtol=1e-6)
    assert_picture(plots.save(fig, str(tmp_path / "t.png")))


def test_figures_stay_out_of_pyplot_and_the_backend_is_untouched():
    # A fresh process: the user picked a backend before importing kerasae.
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import numpy as np\n"
        "import kerasae\n"
        "from kerasae import evaluation\n"
        "from kerasae.evaluation import plots, plots_latent\n"
        "fig = plots.code_map(np.eye(3))\n"
        "import matplotlib.pyplot as plt\n"
        "print(matplotlib.get_backend(), plt.get_fignums(),"
        " type(fig).__name__)\n")
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["svg", "[]", "Figure"]


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
