"""TFLite (LiteRT) encoder and decoder files, with optional quantization.

`export_tflite` writes, into one folder:

- `encoder.tflite` (signature `encode`: raw `x` -> `code`; the VAE's also
  gives `mean` and `log_var`, and its `code` is the mean: there is no
  sampling in the graph, TFLite has no random-normal kernel) and
  `decoder.tflite` (signature `decode`: `code` -> `reconstruction` in raw
  units). A model without an encoder (a GAN generator) gets the decoder
  only. The training preprocessing is inside both graphs, as in the
  SavedModel, so a device sends the raw values it has.
- `encoder.<mode>.tflite` / `decoder.<mode>.tflite` for each requested
  mode: `dynamic` (int8 weights, float activations), `float16` (float16
  weights) and `int8` (full integer: int8 weights and activations,
  calibrated on ~200 training examples; inputs and outputs stay float32 so
  the same runner code works for every file).
- `manifest.json`: shapes, signatures, preprocessing and file sizes.

The graphs come from the same endpoints as the SavedModel
(`kerasae.export.endpoints`), converted with
`tf.lite.TFLiteConverter.from_saved_model(..., signature_keys=[...])`.
"""

import json
import os

import numpy as np
import tensorflow as tf

from kerasae import data as kae_data
from kerasae.errors import ExportError
from kerasae.errors import KerasaeError
from kerasae.export import endpoints as kae_endpoints
from kerasae.export.litert_runner import LiteRTModel

CALIBRATION_EXAMPLES = 200
# TFLite variants beside the float32 one (`--quantize`).
QUANTIZATIONS = ("dynamic", "float16", "int8")
PARTS = {"encoder": "encode", "decoder": "decode"}


def file_name(part, mode=None):
    """`encoder.tflite`, `decoder.int8.tflite`, ..."""
    return f"{part}.tflite" if mode is None else f"{part}.{mode}.tflite"


def calibration_inputs(config, model, preprocessing,
                       count=CALIBRATION_EXAMPLES):
    """Representative inputs of each signature, for int8 calibration.

    Args:
        config: the run's `Config` (its `data` section is reloaded).
        model: the trained model.
        preprocessing: its `Preprocessing`.
        count: number of training examples to take.

    Returns:
        `{"encode": {"x": raw x}, "decode": {"code": codes, ...}}`. Codes
        are the encodings of the examples, plus as many prior draws for
        generative models, whose decoder also sees prior samples.
    """
    try:
        bundle = kae_data.load(config.data, seed=config.train.seed)
    except KerasaeError as error:
        raise ExportError(
            f"--quantize=int8 calibrates on the training data, which cannot "
            f"be loaded: {error}") from None
    train = bundle.train.sample(count)  # never a whole streamed split
    x, y = train.x[:count], train.y
    labels = np.zeros(0, np.int32) if y is None else \
        y[:count].astype(np.int32)
    rng = np.random.default_rng(config.train.seed)
    prior = rng.standard_normal((len(x), model.latent_dim)).astype(np.float32)
    if model.uses_prior:
        prior = np.asarray(model.sample_prior(len(x), seed=config.train.seed))
    codes = [prior] if model.is_generative else []
    if model.has_encoder:
        codes.insert(0, np.asarray(model.encode(x, labels=labels)))
    decode = {"code": np.concatenate(codes)}
    if model.uses_labels:
        decode["label"] = np.tile(labels, len(codes))
    found = {"decode": decode}
    if model.has_encoder:
        found["encode"] = {"x": preprocessing.invert(x)}
        if model.encoder_uses_labels:
            found["encode"]["label"] = labels
    return found


def convert(source_dir, signature, mode=None, representative=None):
    """Converts one signature of a SavedModel to a TFLite flatbuffer.

    Args:
        source_dir: a SavedModel holding `signature`.
        signature: `encode` or `decode`; kept as the TFLite signature name.
        mode: None (float32) or one of `kerasae.export.QUANTIZATIONS`.
        representative: for `int8`, input name -> examples to calibrate on.

    Returns:
        The `.tflite` file contents (bytes).
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(
        source_dir, signature_keys=[signature])
    if mode is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        def examples():
            for i in range(len(next(iter(representative.values())))):
                yield {k: v[i:i + 1] for k, v in representative.items()}

        converter.representative_dataset = examples
        # Every op must have an int8 kernel (conversion fails otherwise);
        # the float32 input and output get quantize/dequantize ops.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def export_tflite(config, model, preprocessing, folder, quantize=(),
                  source_dir=None):
    """Writes encoder/decoder `.tflite` files and `manifest.json`.

    Args:
        config: the run's `Config`.
        model: the trained model.
        preprocessing: its `Preprocessing`.
        folder: output folder (created).
        quantize: modes from `kerasae.export.QUANTIZATIONS`.
        source_dir: where to write the intermediate SavedModel (default
            `folder/../source`).

    Returns:
        The names of the files written, sorted.

    Raises:
        ExportError: `int8` calibration data cannot be loaded.
    """
    source_dir = source_dir or os.path.join(os.path.dirname(folder), "source")
    parts = {p: s for p, s in PARTS.items()
             if s in kae_endpoints.endpoints(model, preprocessing)}
    calibration = calibration_inputs(config, model, preprocessing) \
        if "int8" in quantize else {}
    kae_endpoints.build_archive(
        model, preprocessing, names=set(parts.values())).write_out(
            source_dir, verbose=False)
    os.makedirs(folder, exist_ok=True)
    sizes = {}
    for part, signature in parts.items():
        for mode in (None,) + tuple(quantize):
            content = convert(source_dir, signature, mode,
                              calibration.get(signature))
            name = file_name(part, mode)
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(content)
            sizes[name] = len(content)
    manifest = {
        "model": config.model.name,
        "input_shape": list(model.config.input_shape),
        "code_size": model.latent_dim,
        "signatures": parts,
        "includes_preprocessing": True,
        "preprocessing": preprocessing.to_dict(),
        "io_dtype": "float32",
        "bytes": sizes,
    }
    with open(os.path.join(folder, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return sorted(sizes) + ["manifest.json"]


def measure(folder, model, preprocessing, x_raw):
    """Size and accuracy of every `.tflite` variant in `folder`.

    Args:
        folder: an `export_tflite` output folder.
        model: the Keras model it came from.
        preprocessing: its `Preprocessing`.
        x_raw: raw test inputs.

    Returns:
        `{mode: {"bytes", "max_abs_diff_code", "max_abs_diff_reconstruction",
        "mse"}}` for mode `float32` and each quantized mode: file sizes
        (encoder + decoder), the largest difference from Keras of the code
        and of decoding the Keras code, and the reconstruction MSE (raw
        units) of encoder -> decoder on `x_raw`.
    """
    x_raw = np.asarray(x_raw, np.float32)
    x_model = preprocessing.apply(x_raw)
    code = np.asarray(model.encode(x_model))
    reconstruction = preprocessing.invert(np.asarray(model.decode(code)))
    modes = ["float32"] + [
        m for m in QUANTIZATIONS
        if os.path.exists(os.path.join(folder, file_name("encoder", m)))]
    results = {}
    for mode in modes:
        key = None if mode == "float32" else mode
        encoder = LiteRTModel(os.path.join(folder, file_name("encoder", key)))
        decoder = LiteRTModel(os.path.join(folder, file_name("decoder", key)))
        lite_code = encoder.encode(x_raw)["code"]
        results[mode] = {
            "bytes": sum(os.path.getsize(m.path) for m in (encoder, decoder)),
            "max_abs_diff_code": float(np.max(np.abs(lite_code - code))),
            "max_abs_diff_reconstruction": float(np.max(np.abs(
                decoder.decode(code) - reconstruction))),
            "mse": float(np.mean(np.square(
                decoder.decode(lite_code) - x_raw))),
        }
    results["keras"] = {"mse": float(np.mean(np.square(
        reconstruction - x_raw)))}
    return results
