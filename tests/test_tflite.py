"""TFLite encoders/decoders and the LiteRT runner.

Every registered model is exported to float32 `.tflite` files and compared
with Keras through `kerasae.export.litert_runner` (max abs difference <= 1e-5 in
model space). Quantization is tested on an MNIST autoencoder large enough
(784-256-32) for the weights to dominate the file size.
"""

import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sample_data import uint8_blob_images

import export as export_script
from kerasae import export
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.export import tflite
from kerasae.export.litert_runner import LiteRTModel


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    x, _ = uint8_blob_images(256)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, x=x)
    return str(path), x[:20, ..., None].astype(np.float32)


@pytest.fixture(scope="module", params=models.MODELS.names())
def lite(request, images, tmp_path_factory):
    """(name, TFLite folder, Keras model, workdir) of each model."""
    root = tmp_path_factory.mktemp(request.param)
    config = Config(
        model=ModelConfig(name=request.param, hidden_units=(16,),
                          latent_dim=3, discriminator_units=(8,)),
        data=DataConfig(dataset=images[0]),
        train=TrainConfig(epochs=1, batch_size=64))
    workdir = str(root / "run")
    training.train(config, workdir, verbose=0)
    export.export(workdir, str(root / "out"), formats=("tflite",))
    _, model, _ = training.load_run(workdir)
    return (request.param, str(root / "out" / "tflite" / request.param),
            model, workdir)


def test_files_signatures_and_manifest(lite):
    name, folder, model, _ = lite
    has_encoder = model.has_encoder
    expected = {"decoder.tflite", "manifest.json"}
    if has_encoder:
        expected.add("encoder.tflite")
    assert set(os.listdir(folder)) == expected
    decoder = LiteRTModel(os.path.join(folder, "decoder.tflite"))
    assert decoder.signatures == {
        "decode": {"inputs": ["code"], "outputs": ["reconstruction"]}}
    if has_encoder:
        encoder = LiteRTModel(os.path.join(folder, "encoder.tflite"))
        outputs = ["code", "log_var", "mean"] if name == "vae" else ["code"]
        assert {k: sorted(v["outputs"]) for k, v in
                encoder.signatures.items()} == {"encode": outputs}
    with open(os.path.join(folder, "manifest.json")) as handle:
        manifest = json.load(handle)
    assert manifest["includes_preprocessing"] is True
    assert manifest["preprocessing"] == {"offset": 0.0, "scale": 255.0}
    assert manifest["input_shape"] == [8, 8, 1]


def test_float32_matches_keras(lite, images):
    name, folder, model, _ = lite
    x_raw = images[1]
    x = x_raw / 255.0
    if model.has_encoder:
        got = LiteRTModel(os.path.join(folder, "encoder.tflite")).encode(x_raw)
        code = np.asarray(model.encode(x))
        assert np.abs(got["code"] - code).max() <= 1e-5
        if name == "vae":
            mean, log_var = model.encode_distribution(x)
            assert np.abs(got["mean"] - mean).max() <= 1e-5
            assert np.abs(got["log_var"] - log_var).max() <= 1e-5
    else:
        code = np.random.default_rng(0).normal(size=(20, 3)).astype("f4")
    decoded = LiteRTModel(os.path.join(folder, "decoder.tflite")).decode(code)
    # Raw units are 0..255; compare in model space, where Keras works.
    assert np.abs(decoded / 255.0 - model.decode(code)).max() <= 1e-5


def test_runner_takes_any_batch_size(lite, images):
    name, folder, model, _ = lite
    if not model.has_encoder:
        pytest.skip(f"{name} has no encoder")
    encoder = LiteRTModel(os.path.join(folder, "encoder.tflite"))
    whole = encoder.encode(images[1])["code"]
    one_by_one = np.concatenate(
        [encoder.encode(images[1][i:i + 1])["code"] for i in range(20)])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-6)
    assert encoder.encode(images[1][:7])["code"].shape == (7, 3)
    # Deterministic: there is no sampling in the encoder graph.
    np.testing.assert_array_equal(encoder.encode(images[1])["code"], whole)


def test_int8_without_training_data_is_refused(images, tmp_path, capsys):
    moved = str(tmp_path / "blobs.npz")
    with open(images[0], "rb") as source, open(moved, "wb") as target:
        target.write(source.read())
    config = Config(model=ModelConfig(name="ae", hidden_units=(16,),
                                      latent_dim=3),
                    data=DataConfig(dataset=moved),
                    train=TrainConfig(epochs=1, batch_size=64))
    training.train(config, str(tmp_path / "run"), verbose=0)
    os.remove(moved)
    flags = export_script.FLAGS
    flags.unparse_flags()
    flags(["export.py", f"--workdir={tmp_path / 'run'}",
           f"--export_dir={tmp_path / 'out'}", "--quantize=int8"])
    with pytest.raises(SystemExit) as stop:
        export_script.main(["export.py"])
    flags.unparse_flags()
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2
    assert err.startswith("error: --quantize=int8 calibrates on the training "
                          "data, which cannot be loaded: ")
    assert moved in err and "\n" not in err
    assert os.listdir(tmp_path / "out") == []


# ------------------------------------------------- quantization on MNIST
@pytest.fixture(scope="module")
def mnist_variants(tmp_path_factory):
    """Sizes and errors of every variant of a 784-256-32 MNIST autoencoder.

    10,000 MNIST training images go into an `.npz` (uint8, so the pixel
    scaling is the same as for `--dataset=mnist`), which loads fast for
    training and for int8 calibration; 500 test images are the inputs.
    """
    tfds_dir = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), os.pardir, "shared", "tfds")
    if not os.path.isdir(os.path.join(tfds_dir, "mnist")):
        pytest.skip(f"prepared MNIST not found at {tfds_dir}")
    train, test = tfds.load(
        "mnist", split=["train[:10000]", "test[:500]"], data_dir=tfds_dir,
        batch_size=-1, as_supervised=True, download=False)
    root = tmp_path_factory.mktemp("mnist")
    np.savez(root / "mnist10k.npz", x=train[0].numpy())
    config = Config(
        model=ModelConfig(name="ae", hidden_units=(256,), latent_dim=32),
        data=DataConfig(dataset=str(root / "mnist10k.npz")),
        train=TrainConfig(epochs=2, batch_size=128))
    workdir = str(root / "run")
    training.train(config, workdir, verbose=0)
    export.export(workdir, str(root / "out"), formats=("tflite",),
                  quantize=export.QUANTIZATIONS)
    _, model, pre = training.load_run(workdir)
    return tflite.measure(str(root / "out" / "tflite" / "ae"), model, pre,
                          test[0].numpy().astype(np.float32))


def test_mnist_float32_parity(mnist_variants):
    f32 = mnist_variants["float32"]
    assert f32["max_abs_diff_code"] <= 1e-5
    assert f32["max_abs_diff_reconstruction"] / 255.0 <= 1e-5
    assert f32["mse"] == pytest.approx(mnist_variants["keras"]["mse"],
                                       rel=1e-4)


@pytest.mark.parametrize("mode, max_ratio", [
    ("dynamic", 1 / 3), ("int8", 1 / 3), ("float16", 0.6)])
def test_mnist_quantized_size_and_error(mnist_variants, mode, max_ratio):
    f32, variant = mnist_variants["float32"], mnist_variants[mode]
    assert variant["bytes"] <= max_ratio * f32["bytes"], (variant, f32)
    assert variant["mse"] <= 1.10 * f32["mse"], (variant, f32)
