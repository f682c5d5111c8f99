"""ONNX export: every model and architecture matches the SavedModel.

Each case builds a small untrained model (random weights give outputs far
from constant), writes the SavedModel and the ONNX files of the same
endpoints with a preprocessing far from identity, and runs both on the
same raw inputs: ONNX Runtime matches TensorFlow to 1e-5. One trained run
goes through `export.py --formats=saved_model,tflite,onnx`; refusals are
checked by the line a user sees.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from sample_data import uint8_blob_images

import export as export_script
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.data import Preprocessing
from kerasae.errors import ExportError
from kerasae.evaluation import anomaly
from kerasae.export import endpoints
from kerasae.export import onnx_export

CLASSES = 3
IMAGE = dict(input_shape=(8, 8, 1), hidden_units=(8,),
             reconstruction_loss="bce", output_activation="sigmoid")
WINDOW = dict(input_shape=(12, 2), hidden_units=(8,),
              reconstruction_loss="mse", output_activation="linear",
              data_range=(-3.0, 3.0))
# Every model with the dense arch; the other archs with the VAE (whose
# encoder has two outputs) and the conv1d VQ-VAE (integer codes).
CASES = [(name, "dense", {}) for name in models.MODELS.names()] + [
    ("vae", "conv", {}), ("vae", "conv1d", {}), ("vqvae", "conv1d", {}),
    ("vae", "lstm", {}),
    ("vae", "dense", {"conditional": True}),
    ("aae", "dense", {"supervised": True}),
]


def build(name, arch, extra):
    shape = IMAGE if arch in ("dense", "conv") else WINDOW
    if arch == "lstm":  # unrolled: a short window keeps the graph small
        shape = dict(shape, input_shape=(4, 2))
    labelled = bool(extra)
    config = ModelConfig(
        name=name, arch=arch, latent_dim=3, discriminator_units=(8,),
        num_classes=CLASSES if labelled else 0, **shape, **extra)
    keras.utils.set_random_seed(1)
    return config, models.build(config)


def inputs(model, rng, n=5):
    """Raw inputs of every endpoint: x around the offset, codes, labels."""
    shape = (n,) + tuple(model.config.input_shape)
    found = {"x": rng.uniform(-2, 6, shape).astype(np.float32),
             "label": rng.integers(0, CLASSES, n).astype(np.int32)}
    if getattr(model, "code_dtype", "float32") == "int32":
        found["code"] = rng.integers(
            0, model.config.vq_codebook_size,
            (n, model.latent_dim)).astype(np.int32)
    else:
        found["code"] = rng.normal(size=(n, model.latent_dim)).astype(
            np.float32)
    return found


def scoring(model, pre, rng):
    """A fitted `reconstruction_and_code` score with a threshold, where the
    model has a plain encoder; else the unfitted default."""
    if not model.has_encoder or model.uses_labels or \
            getattr(model, "code_dtype", "float32") != "float32":
        return None
    x = pre.apply(inputs(model, rng, 40)["x"])
    score = "reconstruction_and_code"
    return {"score": score, "threshold": 0.5,
            "params": anomaly.fit(model, score, x[:20], x[20:])}


@pytest.mark.parametrize("name,arch,extra", CASES,
                         ids=[f"{n}-{a}{'-labels' if e else ''}"
                              for n, a, e in CASES])
def test_onnx_matches_saved_model(name, arch, extra, tmp_path):
    config, model = build(name, arch, extra)
    rng = np.random.default_rng(0)
    pre = Preprocessing(offset=np.float32(2.0), scale=np.float32(4.0))
    fitted = scoring(model, pre, rng)
    given = {} if fitted is None else dict(
        threshold=fitted["threshold"], score=fitted["score"],
        params=fitted["params"])
    endpoints.build_archive(model, pre, **given).write_out(
        str(tmp_path / "sm"), verbose=False)
    saved = tf.saved_model.load(str(tmp_path / "sm"))
    files = onnx_export.export_onnx(Config(model=config), model, pre,
                                    str(tmp_path / "onnx"), scoring=fitted)
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    expected = {"decode"} | ({"reconstruct", "encode", "score"}
                             if model.has_encoder else set())
    assert set(manifest["graphs"]) == expected
    assert files == sorted(f"{g}.onnx" for g in expected) + ["manifest.json"]
    assert sorted(manifest["not_converted"]) == (
        ["sample"] if model.is_generative else [])
    assert manifest["opset"] == onnx_export.DEFAULT_OPSET
    feed = inputs(model, rng)
    signature = {v: k for k, v in onnx_export.FILES.items()}
    for graph, info in manifest["graphs"].items():
        fn = saved.signatures[signature[graph]]
        wanted = {k: feed[k] for k in info["inputs"]}
        assert sorted(wanted) == sorted(fn.structured_input_signature[1])
        assert all(v["shape"][0] == "batch" for v in info["inputs"].values())
        expected_out = {k: v.numpy() for k, v in fn(**{
            k: tf.constant(v) for k, v in wanted.items()}).items()}
        got = onnx_export.run(str(tmp_path / "onnx" / info["file"]), **wanted)
        assert sorted(got) == sorted(expected_out) == sorted(info["outputs"])
        for key, value in expected_out.items():
            if value.dtype == bool:
                np.testing.assert_array_equal(got[key], value)
            else:
                np.testing.assert_allclose(got[key], value, rtol=1e-5,
                                           atol=1e-5, err_msg=graph + key)
    if fitted is not None:
        assert manifest["score"] == "reconstruction_and_code"
        assert set(manifest["graphs"]["score"]["outputs"]) == {
            "score", "is_anomaly"}


def test_command_line_writes_three_formats_and_refuses(tmp_path, capsys):
    x, _ = uint8_blob_images(128)
    np.savez(tmp_path / "blobs.npz", x=x)
    workdir = str(tmp_path / "run")
    training.train(Config(
        model=ModelConfig(name="vae", hidden_units=(8,), latent_dim=2),
        data=DataConfig(dataset=str(tmp_path / "blobs.npz")),
        train=TrainConfig(epochs=1, batch_size=64)), workdir, verbose=0)

    def run(*flags):
        args = ["export.py", f"--workdir={workdir}",
                f"--export_dir={tmp_path / 'out'}", *flags]
        export_script.FLAGS.unparse_flags()
        export_script.FLAGS(args)
        try:
            export_script.main(args[:1])
            code = 0
        except SystemExit as stop:
            code = stop.code
        export_script.FLAGS.unparse_flags()
        return code, capsys.readouterr()

    code, out = run("--formats=saved_model,tflite,onnx", "--onnx_opset=15")
    assert code == 0, out.err
    folder = tmp_path / "out" / "onnx" / "vae"
    assert sorted(os.listdir(folder)) == [
        "decode.onnx", "encode.onnx", "manifest.json", "reconstruct.onnx",
        "score.onnx"]
    assert json.loads((folder / "manifest.json").read_text())["opset"] == 15
    assert f"ONNX: {folder / 'encode.onnx'}" in out.out
    assert (tmp_path / "out" / "vae" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "out" / "tflite" / "vae" / "encoder.tflite").is_file()
    # The trained model's three formats give one code.
    _, model, pre = training.load_run(workdir)
    x_raw = x[:4, ..., None].astype(np.float32)
    code_onnx = onnx_export.run(str(folder / "encode.onnx"), x=x_raw)["code"]
    np.testing.assert_allclose(code_onnx, model.encode(pre.apply(x_raw)),
                               atol=1e-5)
    before = sorted(os.listdir(tmp_path / "out"))
    for flags, message in [
            (["--formats=onnx"],
             f"error: {folder} already exists; pass --overwrite to replace "
             "it, or pass --formats=saved_model to add a version only"),
            (["--formats=onnx", "--onnx_opset=99"],
             "error: --onnx_opset=99: choose an opset from 13 to "),
            (["--formats=saved_model", "--onnx_opset=15"],
             "error: --onnx_opset needs --formats to include onnx")]:
        code, out = run(*flags)
        assert code == 2 and out.err.startswith(message), out.err
        assert out.err.count("\n") == 1
    assert sorted(os.listdir(tmp_path / "out")) == before


def test_unconvertible_endpoint_is_refused_before_writing(tmp_path,
                                                          monkeypatch):
    config, model = build("ae", "dense", {})
    pre = Preprocessing(offset=np.float32(0.0), scale=np.float32(1.0))
    found = endpoints.endpoints(model, pre)

    def with_random_decode(*args, **kwargs):
        def decode(code):  # a stateless draw: no ONNX operator
            noise = tf.random.stateless_normal(tf.shape(code), seed=[1, 2])
            return {"reconstruction": model.decode(code + noise)}
        return dict(found, decode=(decode, found["decode"][1]))

    monkeypatch.setattr(endpoints, "endpoints", with_random_decode)
    with pytest.raises(ExportError,
                       match="^the decode endpoint does not convert to ONNX "
                             "opset 17: no ONNX operator for TensorFlow's "
                             "StatelessRandom"):
        onnx_export.export_onnx(Config(model=config), model, pre,
                                str(tmp_path / "onnx"))
    assert not os.path.exists(tmp_path / "onnx")


def test_missing_extra_is_named(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tf2onnx(name, *args, **kwargs):
        if name == "tf2onnx":
            raise ImportError("No module named 'tf2onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tf2onnx)
    with pytest.raises(ExportError) as error:
        onnx_export.modules()
    assert str(error.value) == onnx_export.EXTRA
    assert "pip install -e \".[onnx]\"" in str(error.value)
