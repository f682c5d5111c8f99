"""The Python API: `kerasae.train` on arrays and datasets, `kerasae.load`,
and models that load in a fresh process after `import kerasae`."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sample_data import uint8_blob_images

import kerasae
from kerasae import evaluation
from kerasae import export
from kerasae import models
from kerasae.config import Config
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.errors import WorkdirError
from kerasae.training import threads

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(name, epochs=1, **train):
    return Config(
        model=ModelConfig(name=name, hidden_units=(16,), latent_dim=3,
                          discriminator_units=(8,)),
        train=TrainConfig(epochs=epochs, batch_size=32, **train))


@pytest.fixture(scope="module")
def images():
    x, y = uint8_blob_images(160)
    return x, y


@pytest.fixture(scope="module")
def run_of(images, tmp_path_factory):
    """name -> (workdir, SavedModel loaded): trained on uint8 arrays."""
    cache = {}

    def get(name):
        if name not in cache:
            root = tmp_path_factory.mktemp(name)
            workdir = str(root / "run")
            kerasae.train(tiny(name), workdir, data=images, verbose=0)
            folder = export.export(workdir, str(root / "out"),
                                   formats=("saved_model",))["saved_model"]
            cache[name] = (workdir, tf.saved_model.load(folder))
        return cache[name]

    return get


@pytest.mark.parametrize("name", models.MODELS.names())
def test_load_gives_the_savedmodel_numbers(name, run_of, images):
    workdir, loaded = run_of(name)
    run = kerasae.load(workdir)
    x = images[0][:40]  # uint8 pixels, (n, h, w): the data's raw units
    raw = tf.constant(x[..., None].astype(np.float32))
    signatures = loaded.signatures
    if run.model.has_encoder:
        codes = run.encode(x)
        served = signatures["encode"](x=raw)["code"].numpy()
        print(f"{name}: max |encode - SavedModel encode| = "
              f"{np.abs(codes - served).max():.3g}")
        np.testing.assert_allclose(codes, served, atol=1e-5)
        np.testing.assert_allclose(
            run.reconstruct(x),
            signatures["serving_default"](x=raw)["reconstruction"].numpy(),
            atol=1e-4)
        np.testing.assert_allclose(
            run.score(x), signatures["score"](x=raw)["score"].numpy(),
            rtol=1e-5, atol=1e-4)
        # Batching inside `Run` does not change the numbers.
        small = kerasae.api.Run(workdir, batch_size=7)
        np.testing.assert_allclose(small.encode(x), codes, atol=1e-6)
    else:
        with pytest.raises(kerasae.UnsupportedError, match="no encoder"):
            run.encode(x)
        with pytest.raises(kerasae.UnsupportedError, match="no encoder"):
            run.score(x)
    if run.model.is_generative:
        ours = run.sample(5, seed=3)
        theirs = signatures["sample"](
            count=tf.constant(5), seed=tf.constant(3))["samples"].numpy()
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
        assert ours.shape == (5, 8, 8, 1)
    else:
        with pytest.raises(kerasae.UnsupportedError, match="not generative"):
            run.sample(5)
    with pytest.raises(kerasae.UnsupportedError, match="threshold"):
        run.is_anomaly(x)


def test_is_anomaly_after_evaluation(run_of, images):
    workdir, _ = run_of("ae")
    evaluation.evaluate_run(workdir, evaluation.EvalOptions(plots=False))
    run = kerasae.load(workdir)
    flagged = run.is_anomaly(images[0])
    assert flagged.dtype == bool and flagged.shape == (len(images[0]),)
    np.testing.assert_array_equal(
        flagged, run.score(images[0]) > run.threshold)
    # Calibrated at a high quantile of normal data: few normal flags.
    assert flagged.mean() < 0.2


def test_wrong_input_shape_is_one_clear_error(run_of):
    run = kerasae.load(run_of("ae")[0])
    with pytest.raises(kerasae.KerasaeError, match=r"shape \(4, 5\)"):
        run.encode(np.zeros((4, 5)))


def test_models_load_in_a_fresh_process(run_of):
    paths = [os.path.join(run_of(name)[0], "model.keras")
             for name in models.MODELS.names()]
    code = (
        "import sys, keras, kerasae\n"
        "for path in sys.argv[1:]:\n"
        "    model = keras.saving.load_model(path, safe_mode=True)\n"
        "    print(type(model).__name__)\n")
    result = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True,
        text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = result.stdout.split()
    assert loaded == [models.MODELS.get(n).__name__
                      for n in models.MODELS.names()]


def test_training_on_a_dataset_resumes_evaluates_and_exports(
        images, tmp_path):
    x, y = images
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    workdir = str(tmp_path / "run")
    first = kerasae.train(tiny("vae", epochs=2), workdir, data=dataset,
                          verbose=0)
    assert os.path.exists(os.path.join(workdir, "data.npz"))
    # The same command again finds the finished run; without the data the
    # kept arrays serve evaluation and export.
    again = kerasae.train(tiny("vae", epochs=2), workdir, data=(x, y),
                          verbose=0)
    assert again["validation"] == first["validation"]
    evaluation.evaluate_run(workdir, evaluation.EvalOptions(
        plots=False, iwae_k=0))
    written = export.export(workdir, str(tmp_path / "out"),
                            formats=("tflite",), quantize=("int8",))
    assert any(path.endswith("encoder.int8.tflite")
               for path in written["tflite"])


def test_other_arrays_in_the_same_workdir_are_refused(images, tmp_path):
    x, y = images
    workdir = str(tmp_path / "run")
    kerasae.train(tiny("ae"), workdir, data=(x, y), verbose=0)
    with pytest.raises(WorkdirError, match="other arrays"):
        kerasae.train(tiny("ae"), workdir, data=(255 - x, y), verbose=0)


def test_a_lost_data_file_is_one_clear_error(images, tmp_path):
    workdir = str(tmp_path / "run")
    kerasae.train(tiny("ae"), workdir, data=images[0], verbose=0)
    os.remove(os.path.join(workdir, "data.npz"))
    with pytest.raises(WorkdirError, match="data.npz, which is missing"):
        evaluation.evaluate_run(workdir, evaluation.EvalOptions(plots=False))


def test_thread_pools_not_applied_are_reported(images, tmp_path, capfd):
    other = "inter_op" if threads.current() == "tensorflow" else "tensorflow"
    metrics = kerasae.train(tiny("ae", thread_pools=other),
                            str(tmp_path / "run"), data=images[0],
                            verbose=0)
    assert f"--thread_pools={other} not applied" in capfd.readouterr().err
    assert metrics["thread_pools"] == threads.current()


def test_build_refuses_unresolved_auto_fields():
    with pytest.raises(ConfigError, match="reconstruction_loss='auto'"):
        models.build(ModelConfig(name="ae", input_shape=(4,)))
    with pytest.raises(ConfigError, match="input_shape is empty"):
        models.build(ModelConfig(name="ae", reconstruction_loss="mse",
                                 output_activation="linear"))


def test_import_kerasae_registers_every_class():
    for name in models.MODELS.names():
        cls = models.MODELS.get(name)
        assert keras.saving.get_registered_object(
            keras.saving.get_registered_name(cls)) is cls
