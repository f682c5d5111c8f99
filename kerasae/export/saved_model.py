"""Export a training workdir as a SavedModel for TF Serving, TFLite and ONNX.

`export(workdir, export_dir)` writes `export_dir/<name>/<version>/` (the
folder TF Serving watches is `export_dir/<name>/`), for `tflite`
`export_dir/tflite/<name>/` (see `kerasae.export.tflite`) and, for `onnx`,
`export_dir/onnx/<name>/` (see `kerasae.export.onnx_export`). The
SavedModel is a `keras.export.ExportArchive` of the endpoints in
`kerasae.export.endpoints` (serving_default, encode, decode, score; sample
for generative models, `classify` for models with a categorical code,
`score_series` for series models), each with a fixed input signature;
the training preprocessing is inside, so clients send and receive raw
values. When the workdir holds `threshold.json` (written by
`kerasae.evaluate`: `{"score": name, "threshold": float, "params": {...},
...}`), `score` computes the score it names (by default
`reconstruction_and_code`, its fitted parameters baked in as constants)
and also returns `is_anomaly = score > threshold`; re-export after
recomputing it. Without the file, `score` is the reconstruction loss (the
VAE's negative ELBO at the mean) and has no `is_anomaly`.

Nothing is ever half-written or overwritten by accident: artifacts are
built in a hidden folder `export_dir/.tmp-<name>-<version>-*` (outside the
watched `export_dir/<name>/`) and renamed into place.
"""

import dataclasses
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from kerasae import lock
from kerasae import workdir as wd
from kerasae.errors import ConfigError
from kerasae.errors import ExportError
from kerasae.evaluation import anomaly
from kerasae.export.endpoints import build_archive
from kerasae.export.endpoints import score_name
from kerasae.export.tflite import QUANTIZATIONS

FORMATS = ("saved_model", "tflite", "onnx")
# ONNX needs an extra (`pip install -e ".[onnx]"`), so it is asked for.
DEFAULT_FORMATS = ("saved_model", "tflite")
THRESHOLD = wd.THRESHOLD


def read_scoring(workdir, model):
    """What the exported `score` signature computes, from `threshold.json`.

    `workdir/threshold.json` is `{"threshold": float}`, optionally with
    `"score": name` (default: `score_name(model)`, the reconstruction loss)
    and, for `kerasae.evaluation.anomaly.FITTED` scores, `"params"`. Any score
    of `kerasae.evaluation.anomaly.SCORES` that `model` can compute is served.

    Returns:
        `{"score", "threshold", "params"}` (`params` None for scores
        without parameters), or None when there is no file.

    Raises:
        ExportError: the file is unreadable, names a score this model
            cannot compute, or lacks the fitted parameters.
    """
    path = wd.path(workdir, THRESHOLD)
    try:
        value = wd.read_json(workdir, THRESHOLD)
        if value is None:
            return None
        threshold = float(value["threshold"])
    except (ValueError, KeyError, TypeError) as error:
        raise ExportError(
            f"{path} is not {{\"threshold\": number}} "
            f"({error}); fix or remove it") from None
    named = value.get("score", score_name(model))
    try:
        score = anomaly.resolve_score(model, named)
    except (ConfigError, TypeError):
        raise ExportError(
            f"{path} holds a threshold on {named!r}, which the exported "
            f"score of a {model.config.name!r} model cannot compute; "
            "recompute the threshold with python -m kerasae.evaluate"
        ) from None
    params = value.get("params") or None
    if score in anomaly.FITTED:
        _check_params(path, score, params, model.latent_dim)
    return {"score": score, "threshold": threshold,
            "params": params if score in anomaly.FITTED else None,
            "recorded": _recorded(path, value.get("recorded"), model)}


def _recorded(path, record, model):
    """The `recorded` section of a series run's threshold, checked."""
    if record is None:
        return None
    features = model.config.input_shape[-1]
    try:
        params = record["params"]
        threshold = float(record["threshold"])
        scales = [float(v) for key in ("step_scale", "window_scale")
                  for v in params[key]]
        numbers = [float(params[k]) for k in (
            "step_mean", "step_std", "window_mean", "window_std")]
    except (KeyError, TypeError, ValueError) as error:
        raise ExportError(
            f"{path}: bad recorded section ({error}); recompute it with "
            "python -m kerasae.evaluate") from None
    if len(scales) != 2 * features or not all(
            v > 0 for v in scales + numbers[1::2]):
        raise ExportError(
            f"{path}: the recorded constants do not fit this model's "
            f"{features} features; recompute them with python -m "
            "kerasae.evaluate")
    return {"params": params, "threshold": threshold}


def _check_params(path, score, params, latent_dim):
    try:
        anomaly.check_params(score, params)
        shapes = (np.shape(params["code_mean"]),
                  np.shape(params["code_precision"]))
        numbers = [float(v) for k, v in params.items()
                   if not k.startswith("code_")]
    except (ConfigError, TypeError, ValueError) as error:
        raise ExportError(
            f"{path}: bad params for {score!r} ({error}); recompute the "
            "threshold with python -m kerasae.evaluate") from None
    if shapes != ((latent_dim,), (latent_dim, latent_dim)) or not all(
            np.isfinite(numbers)):
        raise ExportError(
            f"{path}: the params of {score!r} do not fit a model with "
            f"{latent_dim} code units; recompute the threshold with "
            "python -m kerasae.evaluate")


def read_threshold(workdir, model):
    """The anomaly threshold stored by evaluation, or None.

    Raises:
        ExportError: as `read_scoring`.
    """
    scoring = read_scoring(workdir, model)
    return None if scoring is None else scoring["threshold"]


# ------------------------------------------------------------ the folders
def next_version(base):
    """The next free integer version below `base` (1 for a new model)."""
    taken = [int(n) for n in os.listdir(base) if n.isdigit()] \
        if os.path.isdir(base) else []
    return max(taken, default=0) + 1


def _scratch(export_dir, prefix):
    """Makes a hidden temporary folder inside `export_dir`."""
    try:
        os.makedirs(export_dir, exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=export_dir)
    except OSError as error:
        raise ExportError(
            f"--export_dir={export_dir} is not writable ({error.strerror}); "
            "choose a folder you can write to") from None


def _move_into_place(source, target, overwrite):
    """Renames `source` to `target`, replacing it only when `overwrite`."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        os.rename(source, target)  # fails rather than replace a racing copy
        return
    if not overwrite:
        raise ExportError(f"{target} appeared while exporting; not replaced")
    retired = source + ".old"
    os.rename(target, retired)
    os.rename(source, target)
    shutil.rmtree(retired)


def _checked(flag, values, known):
    values = tuple(v for v in values if v)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ExportError(
            f"{flag}={','.join(values)}: unknown {', '.join(unknown)}; "
            f"choose from {','.join(known)}")
    return values


def export(workdir, export_dir, formats=DEFAULT_FORMATS, quantize=(),
           name=None, version=None, overwrite=False, onnx_opset=None):
    """Exports the trained run in `workdir` to `export_dir`.

    Args:
        workdir: a finished training workdir.
        export_dir: base folder for all artifacts (created when missing).
        formats: any of `FORMATS`.
        quantize: extra TFLite variants, any of `QUANTIZATIONS`.
        name: model name in the layout (default: the model's name).
        version: SavedModel version (default: the next free integer).
        overwrite: replace an existing version / TFLite / ONNX folder.
        onnx_opset: the ONNX opset (None:
            `kerasae.export.onnx_export.DEFAULT_OPSET`); needs `onnx` in
            `formats`.

    Returns:
        `{"name", "version", "saved_model": path or None,
        "tflite": [paths], "onnx": [paths], "score": the name the `score`
        signature computes (None for a model without an encoder),
        "threshold": float or None}`.

    Raises:
        KerasaeError: a bad option, workdir, folder or existing artifact;
            nothing existing is touched then.
    """
    formats = _checked("--formats", formats, FORMATS)
    quantize = _checked("--quantize", quantize, QUANTIZATIONS)
    if not formats:
        raise ExportError(
            f"--formats is empty; choose from {','.join(FORMATS)}")
    if quantize and "tflite" not in formats:
        raise ExportError("--quantize needs --formats to include tflite")
    if onnx_opset is not None and "onnx" not in formats:
        raise ExportError("--onnx_opset needs --formats to include onnx")
    if "onnx" in formats:
        from kerasae.export import onnx_export
        onnx_opset = onnx_export.DEFAULT_OPSET if onnx_opset is None \
            else onnx_opset
        onnx_export.check_opset(onnx_opset)  # and that the extra is there
    if name is not None and (not name or name.startswith(".")
                             or os.sep in name):
        raise ExportError(f"--name={name!r}: give a plain folder name")
    if version is not None and version < 1:
        raise ExportError(f"--version={version}: must be 1 or more")
    # A workdir being written (a run, an evaluation) is refused; the
    # shared lock keeps one from starting while this reads it.
    with lock.reading(workdir):
        return _export(workdir, export_dir, formats, quantize, name,
                       version, overwrite, onnx_opset)


def _export(workdir, export_dir, formats, quantize, name, version,
            overwrite, onnx_opset):
    """`export` under the workdir's shared lock."""
    config, model, pre = wd.load_run(workdir)
    scoring = read_scoring(workdir, model) or {
        "score": score_name(model), "threshold": None, "params": None,
        "recorded": None}
    # A series model also serves the recorded score of a whole log.
    series = None
    if config.data.window is not None and model.has_encoder:
        series = {"window": int(config.model.input_shape[0]),
                  **(scoring["recorded"] or {})}
    name = name or config.model.name
    version = version or next_version(os.path.join(export_dir, name))
    targets = {}
    if "saved_model" in formats:
        targets["saved_model"] = os.path.join(export_dir, name, str(version))
    if "tflite" in formats:
        targets["tflite"] = os.path.join(export_dir, "tflite", name)
    if "onnx" in formats:
        targets["onnx"] = os.path.join(export_dir, "onnx", name)
    only_version = "or pass --formats=saved_model to add a version only"
    hints = {"saved_model": "or choose another --version or --name",
             "tflite": only_version, "onnx": only_version}
    for key, target in targets.items():
        if os.path.exists(target) and not overwrite:
            raise ExportError(
                f"{target} already exists; pass --overwrite to replace it, "
                f"{hints[key]}")
    scratch = _scratch(export_dir, f".tmp-{name}-{version}-")
    built = {key: os.path.join(scratch, key) for key in targets}
    try:
        # Build everything first, so a failure leaves no partial export.
        if "saved_model" in built:
            build_archive(
                model, pre, scoring["threshold"], score=scoring["score"],
                params=scoring["params"], series=series).write_out(
                    built["saved_model"], verbose=False)
        files = []
        if "tflite" in built:
            from kerasae.export import (
                tflite,  # the converter is only needed here
            )
            # int8 calibration reads the training data (a run trained on
            # arrays kept them in its workdir).
            files = tflite.export_tflite(
                dataclasses.replace(
                    config, data=wd.data_config(config, workdir)),
                model, pre, built["tflite"], quantize,
                os.path.join(scratch, "source"))
        onnx_files = []
        if "onnx" in built:
            from kerasae.export import onnx_export
            onnx_files = onnx_export.export_onnx(
                config, model, pre, built["onnx"], onnx_opset, scoring)
        for key, folder in built.items():
            _move_into_place(folder, targets[key], overwrite)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tflite_dir, onnx_dir = targets.get("tflite"), targets.get("onnx")
    return {"name": name, "version": version,
            "saved_model": targets.get("saved_model"),
            "tflite": [os.path.join(tflite_dir, f) for f in files],
            "onnx": [os.path.join(onnx_dir, f) for f in onnx_files],
            "score": scoring["score"] if getattr(
                model, "encoder", None) is not None else None,
            "threshold": scoring["threshold"]}


# --------------------------------------------- what TF Serving would answer
def rest_response(saved_model, body):
    """Answers a TF Serving REST `:predict` body from a loaded SavedModel.

    Follows TF Serving's REST API: the row format (`"instances"`) answers
    `{"predictions": [...]}`, one item per instance (a dict when the
    signature has several outputs); the columnar format (`"inputs"`)
    answers `{"outputs": ...}`. Used to write docs/serving.md and to check
    a real server in tests.

    Args:
        saved_model: the result of `tf.saved_model.load`.
        body: the request as a dict.

    Returns:
        The response as a dict of JSON-able values.
    """
    fn = saved_model.signatures[body.get("signature_name", "serving_default")]
    specs = fn.structured_input_signature[1]
    if "instances" in body:
        rows = body["instances"]
        columns = {k: [r[k] for r in rows] for k in specs} \
            if isinstance(rows[0], dict) else {next(iter(specs)): rows}
    else:
        given = body["inputs"]
        columns = given if isinstance(given, dict) \
            else {next(iter(specs)): given}
    outputs = fn(**{k: tf.constant(np.asarray(v), specs[k].dtype)
                    for k, v in columns.items()})
    outputs = {k: v.numpy().tolist() for k, v in sorted(outputs.items())}
    if "inputs" in body:
        return {"outputs": outputs if len(outputs) > 1
                else next(iter(outputs.values()))}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    count = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i] for k, v in outputs.items()}
                            for i in range(count)]}
