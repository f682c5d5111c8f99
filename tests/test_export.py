"""SavedModel export for TF Serving: signatures, parity, layout, bad input.

Every registered model is trained for one epoch on tiny uint8 images (so
the pixel scaling is real) and exported once per module; tests compare the
reloaded signatures with the Keras model, call `saved_model_cli`, check the
TF Serving folder layout, and check each refusal's message.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from sample_data import uint8_blob_images

import export as export_script
from kerasae import evaluation
from kerasae import export
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.evaluation import anomaly
from kerasae.export import endpoints

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def train_run(folder, dataset, name, **model):
    config = Config(
        model=ModelConfig(name=name, hidden_units=(16,), latent_dim=3,
                          discriminator_units=(8,), **model),
        data=DataConfig(dataset=dataset),
        train=TrainConfig(epochs=1, batch_size=64))
    training.train(config, folder, verbose=0)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    x, y = uint8_blob_images(256)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, x=x, y=y)
    return str(path), x[:16, ..., None].astype(np.float32)


@pytest.fixture(scope="module")
def export_of(images, tmp_path_factory):
    """name -> (name, workdir, SavedModel dir, loaded, Keras model, pre).

    Each model is trained and exported once per module, on first use.
    """
    cache = {}

    def get(name):
        if name not in cache:
            root = tmp_path_factory.mktemp(name)
            workdir = train_run(str(root / "run"), images[0], name)
            folder = export.export(workdir, str(root / "out"),
                                   formats=("saved_model",))["saved_model"]
            _, model, pre = training.load_run(workdir)
            cache[name] = (name, workdir, folder,
                           tf.saved_model.load(folder), model, pre)
        return cache[name]

    return get


@pytest.fixture(params=models.MODELS.names())
def exported(request, export_of):
    """Every registered model's export, one test per model."""
    return export_of(request.param)


@pytest.fixture
def vae(export_of):
    return export_of("vae")


@pytest.fixture
def ae(export_of):
    return export_of("ae")


def expected_signatures(model):
    names = {"decode"}
    if model.has_encoder:
        names |= {"serving_default", "encode", "score"}
    if model.is_generative:
        names |= {"sample", "serving_default"}
    return names


def test_signatures_of_every_model(exported):
    name, _, _, loaded, model, _ = exported
    assert set(loaded.signatures) == expected_signatures(model)
    outputs = {k: sorted(f.structured_outputs)
               for k, f in loaded.signatures.items()}
    assert outputs["decode"] == ["reconstruction"]
    if "encode" in outputs:
        assert outputs["serving_default"] == ["reconstruction"]
        assert outputs["score"] == ["score"]
        assert outputs["encode"] == (["code", "log_var", "mean"]
                                     if name == "vae" else ["code"])
    if "sample" in outputs:
        assert sorted(loaded.signatures["sample"]
                      .structured_input_signature[1]) == ["count", "seed"]


def test_signatures_match_keras_in_raw_units(exported, images):
    _, _, _, loaded, model, pre = exported
    x_raw = images[1]  # uint8-range pixel values sent as float
    x = x_raw / 255.0
    sig = loaded.signatures
    if "encode" in sig:
        code = np.asarray(model.encode(x))
        np.testing.assert_allclose(
            sig["encode"](x=x_raw)["code"], code, atol=1e-5)
        # Reconstructions come back in raw units: 255 * model output.
        out = sig["serving_default"](x=x_raw)["reconstruction"].numpy()
        np.testing.assert_allclose(out / 255.0, model(x), atol=1e-5)
        assert 0.0 <= out.min() and out.max() <= 255.0 and out.max() > 1.0
    else:
        code = np.random.default_rng(0).normal(size=(16, 3)).astype("f4")
    out = sig["decode"](code=tf.constant(code))["reconstruction"].numpy()
    np.testing.assert_allclose(out / 255.0, model.decode(code), atol=1e-5)


def test_vae_encode_gives_mean_and_log_variance(vae, images):
    _, _, _, loaded, model, _ = vae
    mean, log_var = model.encode_distribution(images[1] / 255.0)
    out = loaded.signatures["encode"](x=images[1])
    np.testing.assert_allclose(out["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(out["log_var"], log_var, atol=1e-5)
    np.testing.assert_array_equal(out["code"], out["mean"])


def test_score_is_the_documented_quantity(exported, images):
    name, _, _, loaded, model, _ = exported
    if "score" not in loaded.signatures:
        pytest.skip(f"{name} has no encoder, so no score")
    x = images[1] / 255.0
    score = loaded.signatures["score"](x=images[1])["score"].numpy()
    # Recomputed by hand: Bernoulli NLL of x under decode(code), in nats.
    if name == "vae":
        mean, log_var = (np.asarray(t) for t in model.encode_distribution(x))
        p = np.asarray(model.decode(mean))
        kl = 0.5 * np.sum(mean ** 2 + np.exp(log_var) - 1 - log_var, axis=1)
    else:
        p, kl = np.asarray(model(x)), 0.0
    p = np.clip(p, 1e-7, 1 - 1e-7)
    nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(score, nll + kl, rtol=1e-4)


def test_sample_is_seeded_and_deterministic(exported):
    name, _, _, loaded, model, _ = exported
    if "sample" not in loaded.signatures:
        pytest.skip(f"{name} is not generative")
    sample = loaded.signatures["sample"]
    a = sample(count=tf.constant(5), seed=tf.constant(7))["samples"].numpy()
    b = sample(count=tf.constant(5), seed=tf.constant(7))["samples"].numpy()
    c = sample(count=tf.constant(5), seed=tf.constant(8))["samples"].numpy()
    assert a.shape == (5, 8, 8, 1)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0
    if name == "vae":  # documented: z ~ stateless N(0, I) from [seed, 0]
        z = tf.random.stateless_normal([5, 3], seed=[7, 0])
        np.testing.assert_allclose(a / 255.0, model.decode(z), atol=1e-5)


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_saved_model_cli_show_lists_signatures(name, export_of):
    if name not in models.MODELS:
        pytest.skip(f"{name} is not registered")
    _, _, folder, _, model, _ = export_of(name)
    shown = subprocess.run([CLI, "show", "--all", "--dir", folder],
                           capture_output=True, text=True, check=True).stdout
    for signature in expected_signatures(model):
        assert f"signature_def['{signature}']" in shown
    assert "outputs['samples']" in shown and "inputs['seed']" in shown


def test_saved_model_cli_run_matches_keras(vae, tmp_path, images):
    _, _, folder, _, model, _ = vae
    np.save(tmp_path / "x.npy", images[1])
    subprocess.run(
        [CLI, "run", "--dir", folder, "--tag_set", "serve",
         "--signature_def", "encode", "--inputs", f"x={tmp_path / 'x.npy'}",
         "--outdir", str(tmp_path / "cli")],
        capture_output=True, text=True, check=True)
    mean, log_var = model.encode_distribution(images[1] / 255.0)
    np.testing.assert_allclose(
        np.load(tmp_path / "cli" / "mean.npy"), mean, atol=1e-5)
    np.testing.assert_allclose(
        np.load(tmp_path / "cli" / "log_var.npy"), log_var, atol=1e-5)


def test_tabular_standardization_is_inside_the_graph(tmp_path):
    rng = np.random.default_rng(0)
    # Raw sensor-like columns far from 0 and of very different scales.
    x = rng.normal([20.0, 1013.0, 0.5], [5.0, 30.0, 0.1],
                   size=(200, 3)).astype(np.float32)
    np.savez(tmp_path / "sensors.npz", x=x)
    workdir = train_run(str(tmp_path / "run"), str(tmp_path / "sensors.npz"),
                        "ae")
    _, model, pre = training.load_run(workdir)
    folder = export.export(workdir, str(tmp_path / "out"),
                           formats=("saved_model",))["saved_model"]
    out = tf.saved_model.load(folder).signatures["serving_default"](
        x=x[:8])["reconstruction"].numpy()
    expected = pre.invert(model(pre.apply(x[:8])))
    np.testing.assert_allclose((out - pre.offset) / pre.scale,
                               pre.apply(expected), atol=1e-5)
    assert abs(out[:, 1].mean() - 1013.0) < 100  # raw units come back


def test_tf_serving_layout_and_next_version(ae, tmp_path):
    name, workdir = ae[0], ae[1]
    out = tmp_path / "serving"
    first = export.export(workdir, str(out), formats=("saved_model",))
    second = export.export(workdir, str(out), formats=("saved_model",))
    assert (first["version"], second["version"]) == (1, 2)
    for version in ("1", "2"):
        assert (out / name / version / "saved_model.pb").is_file()
        assert (out / name / version / "variables").is_dir()
    assert sorted(os.listdir(out / name)) == ["1", "2"]
    assert sorted(os.listdir(out)) == [name]  # no temporary folder left


def test_failed_export_leaves_nothing(ae, tmp_path, monkeypatch):
    from kerasae.export import tflite

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(tflite, "export_tflite", broken)
    with pytest.raises(RuntimeError, match="converter crashed"):
        export.export(ae[1], str(tmp_path / "out"))
    assert os.listdir(tmp_path / "out") == []


def copy_with_threshold(workdir, folder, value):
    shutil.copytree(workdir, folder)
    with open(os.path.join(folder, "threshold.json"), "w") as handle:
        json.dump(value, handle)
    return folder


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_threshold_file_adds_is_anomaly(name, export_of, tmp_path, images):
    _, workdir, _, _, model, _ = export_of(name)
    scores = endpoints.anomaly_score(model, images[1] / 255.0).numpy()
    threshold = float(np.median(scores))
    # The form kerasae.evaluation.anomaly writes: score name, threshold, method.
    copy = copy_with_threshold(workdir, str(tmp_path / "run"), {
        "score": endpoints.score_name(model), "threshold": threshold,
        "method": "quantile"})
    folder = export.export(copy, str(tmp_path / "out"),
                           formats=("saved_model",))["saved_model"]
    out = tf.saved_model.load(folder).signatures["score"](x=images[1])
    np.testing.assert_array_equal(out["is_anomaly"],
                                  out["score"].numpy() > threshold)
    assert 0 < out["is_anomaly"].numpy().sum() < len(scores)


@pytest.mark.parametrize("name", ["ae", "vae", "aae"])
def test_evaluate_with_defaults_then_export_serves_that_score(
        name, export_of, tmp_path, images):
    """train -> evaluate (default score) -> export: `score` is that score."""
    if name not in models.MODELS:
        pytest.skip(f"{name} is not registered")
    workdir = str(tmp_path / "run")
    shutil.copytree(export_of(name)[1], workdir)
    evaluation.evaluate_run(workdir, evaluation.EvalOptions(plots=False))
    with open(os.path.join(workdir, "threshold.json")) as handle:
        stored = json.load(handle)
    assert stored["score"] == "reconstruction_and_code"  # the default
    written = export.export(workdir, str(tmp_path / "out"),
                            formats=("saved_model",))
    assert written["score"] == "reconstruction_and_code"
    assert written["threshold"] == stored["threshold"]
    _, model, _ = training.load_run(workdir)
    raw = np.concatenate([images[1], 255.0 - images[1]])  # some anomalies
    out = tf.saved_model.load(written["saved_model"]).signatures["score"](
        x=tf.constant(raw, tf.float32))
    expected = anomaly.scores(model, raw / 255.0, stored["score"],
                              params=stored["params"])
    score = out["score"].numpy()
    np.testing.assert_allclose(score, expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    np.testing.assert_array_equal(out["is_anomaly"],
                                  score > stored["threshold"])
    assert out["is_anomaly"].numpy().any()


@pytest.mark.parametrize("score", ["squared_error", "code_mahalanobis"])
def test_threshold_on_any_score_is_served(score, ae, tmp_path, images):
    _, workdir, _, _, model, _ = ae
    x = images[1] / 255.0
    params = anomaly.fit(model, score, x, x)
    expected = anomaly.scores(model, x, score, params=params)
    threshold = float(np.median(expected))
    copy = copy_with_threshold(workdir, str(tmp_path / "run"), {
        "score": score, "threshold": threshold, "method": "quantile",
        **({"params": params} if params else {})})
    folder = export.export(copy, str(tmp_path / "out"),
                           formats=("saved_model",))["saved_model"]
    out = tf.saved_model.load(folder).signatures["score"](x=images[1])
    np.testing.assert_allclose(out["score"], expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    np.testing.assert_array_equal(out["is_anomaly"],
                                  out["score"].numpy() > threshold)


def test_threshold_the_model_cannot_serve_is_refused(ae, tmp_path, capsys):
    copy = copy_with_threshold(ae[1], str(tmp_path / "run"), {
        "score": "neg_elbo_at_mean", "threshold": 1.0})
    code, err = run_script([f"--workdir={copy}",
                            f"--export_dir={tmp_path / 'out'}"], capsys)
    assert code == 2
    assert err == (f"error: {copy}/threshold.json holds a threshold on "
                   "'neg_elbo_at_mean', which the exported score of a 'ae' "
                   "model cannot compute; recompute the threshold with "
                   "python -m kerasae.evaluate")
    assert not os.path.exists(tmp_path / "out")
    # A fitted score without its parameters cannot be served either.
    copy = copy_with_threshold(ae[1], str(tmp_path / "run2"), {
        "score": "reconstruction_and_code", "threshold": 1.0})
    code, err = run_script([f"--workdir={copy}",
                            f"--export_dir={tmp_path / 'out'}"], capsys)
    assert code == 2
    assert err.startswith(f"error: {copy}/threshold.json: bad params for "
                          "'reconstruction_and_code'")
    assert not os.path.exists(tmp_path / "out")


def test_supervised_aae_takes_labels(images, tmp_path):
    if "aae" not in models.MODELS:
        pytest.skip("aae is not registered")
    workdir = train_run(str(tmp_path / "run"), images[0], "aae",
                        supervised=True)
    _, model, _ = training.load_run(workdir)
    folder = export.export(workdir, str(tmp_path / "out"),
                           formats=("saved_model",))["saved_model"]
    sig = tf.saved_model.load(folder).signatures
    inputs = {k: sorted(f.structured_input_signature[1])
              for k, f in sig.items()}
    assert inputs["decode"] == ["code", "label"]
    assert inputs["serving_default"] == ["label", "x"]
    assert inputs["sample"] == ["label", "seed"]
    x, label = images[1] / 255.0, np.arange(16, dtype=np.int32) % 2
    out = sig["serving_default"](x=images[1], label=label)["reconstruction"]
    np.testing.assert_allclose(out / 255.0, model((x, label)), atol=1e-5)
    samples = sig["sample"](label=label[:3], seed=tf.constant(0))["samples"]
    assert samples.shape == (3, 8, 8, 1)


def test_rest_response_formats(vae, images):
    loaded = vae[3]
    rows = images[1][:2].tolist()
    single = export.rest_response(loaded, {"instances": rows})
    assert np.asarray(single["predictions"]).shape == (2, 8, 8, 1)
    many = export.rest_response(
        loaded, {"signature_name": "encode", "instances": rows})
    assert sorted(many["predictions"][0]) == ["code", "log_var", "mean"]
    sampled = export.rest_response(loaded, {
        "signature_name": "sample", "inputs": {"count": 2, "seed": 1}})
    assert np.asarray(sampled["outputs"]).shape == (2, 8, 8, 1)


# ------------------------------------------------------------- bad input
def run_script(argv, capsys):
    """Runs export.py's `main` in-process; returns (exit code, stderr)."""
    flags = export_script.FLAGS
    flags.unparse_flags()
    flags(["export.py"] + argv)
    try:
        export_script.main(["export.py"])
        code = 0
    except SystemExit as stop:
        code = stop.code
    finally:
        flags.unparse_flags()
    return code, capsys.readouterr().err.strip()


def test_workdir_without_model_is_refused(tmp_path, capsys):
    os.makedirs(tmp_path / "empty")
    code, err = run_script([f"--workdir={tmp_path / 'empty'}",
                            f"--export_dir={tmp_path / 'out'}"], capsys)
    assert code == 2
    assert err == (f"error: --workdir={tmp_path / 'empty'} holds no trained "
                   "model (no config.json and model.keras); run train.py "
                   "with this --workdir first")
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("flag, value, message", [
    ("formats", "saved_model,torchscript",
     "error: --formats=saved_model,torchscript: unknown torchscript; choose "
     "from saved_model,tflite,onnx"),
    ("quantize", "int4",
     "error: --quantize=int4: unknown int4; choose from "
     "dynamic,float16,int8"),
])
def test_unknown_format_or_quantization_is_refused(
        flag, value, message, tmp_path, capsys):
    code, err = run_script([f"--workdir={tmp_path}",
                            f"--export_dir={tmp_path / 'out'}",
                            f"--{flag}={value}"], capsys)
    assert (code, err) == (2, message)
    assert not os.path.exists(tmp_path / "out")


def test_unwritable_export_dir_is_refused(ae, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    target = blocker / "serving"
    code, err = run_script([f"--workdir={ae[1]}",
                            f"--export_dir={target}"], capsys)
    assert code == 2
    assert err == (f"error: --export_dir={target} is not writable (Not a "
                   "directory); choose a folder you can write to")
    assert blocker.read_text() == "not a folder"


def test_existing_version_needs_overwrite(ae, tmp_path, capsys):
    name, workdir = ae[0], ae[1]
    out = tmp_path / "out"
    args = [f"--workdir={workdir}", f"--export_dir={out}", "--version=3",
            "--formats=saved_model"]
    assert run_script(args, capsys)[0] == 0
    pb = out / name / "3" / "saved_model.pb"
    before = (pb.stat().st_ino, pb.read_bytes())
    code, err = run_script(args, capsys)
    assert code == 2
    assert err == (f"error: {out / name / '3'} already exists; pass "
                   "--overwrite to replace it, or choose another --version "
                   "or --name")
    assert (pb.stat().st_ino, pb.read_bytes()) == before
    assert run_script(args + ["--overwrite"], capsys)[0] == 0
    assert pb.stat().st_ino != before[0]  # a new, complete copy
    assert sorted(os.listdir(out)) == [name]


def test_command_line_exports(ae, tmp_path):
    workdir = ae[1]
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "export.py"),
         f"--workdir={workdir}", f"--export_dir={tmp_path}",
         "--formats=saved_model", "--name=blobs"],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert f"SavedModel blobs version 1: {tmp_path / 'blobs' / '1'}" \
        in result.stdout
    assert (tmp_path / "blobs" / "1" / "saved_model.pb").is_file()


# --------------------------------------------------------- a real server
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on the PATH "
                           "(TF Serving is not installable here)")
def test_tf_serving_rest_matches_saved_model(exported, images):
    name, _, folder, loaded, _, _ = exported
    port = free_port()
    server = subprocess.Popen(
        ["tensorflow_model_server", f"--rest_api_port={port}",
         f"--port={free_port()}", f"--model_name={name}",
         f"--model_base_path={os.path.dirname(folder)}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/models/{name}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(url, timeout=1) as reply:
                    if b"AVAILABLE" in reply.read():
                        break
            except OSError:
                time.sleep(0.5)
        for signature in loaded.signatures:
            body = {"signature_name": signature,
                    "instances": images[1][:2].tolist()}
            if signature == "decode":
                body["instances"] = [[0.0, 0.5, -0.5], [1.0, 0.0, 0.0]]
            if "seed" in loaded.signatures[signature] \
                    .structured_input_signature[1]:
                body = {"signature_name": signature,
                        "inputs": {"count": 2, "seed": 1}}
            request = urllib.request.Request(
                f"{url}:predict", json.dumps(body).encode(),
                {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as reply:
                got = json.loads(reply.read())
            want = export.rest_response(loaded, body)
            key = next(iter(want))
            np.testing.assert_allclose(
                _numbers(got[key]), _numbers(want[key]), atol=1e-4)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _numbers(value):
    """Flattens a REST response into floats, dict keys in sorted order."""
    if isinstance(value, dict):
        return [f for k in sorted(value) for f in _numbers(value[k])]
    if isinstance(value, list):
        return [f for v in value for f in _numbers(v)]
    return [float(value)]
