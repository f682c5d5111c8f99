"""ONNX files of the exported endpoints, for ONNX Runtime and Triton.

`export_onnx` writes one `.onnx` graph per endpoint of
`kerasae.export.endpoints` into one folder, with `manifest.json`:

- `reconstruct.onnx` (the SavedModel's `serving_default`): raw `x` ->
  `reconstruction` in raw units;
- `encode.onnx`: raw `x` -> `code` (the VAE's also `mean`, `log_var`);
- `decode.onnx`: `code` -> `reconstruction` in raw units;
- `score.onnx`: raw `x` -> `score` (and `is_anomaly` when the run has a
  threshold), with the run's fitted score parameters inside.

Input and output names are those of the SavedModel signatures (`x`,
`code`, `label`; `reconstruction`, `code`, `mean`, `log_var`, `score`,
`is_anomaly`); the batch axis is named `batch`. The training preprocessing
is inside every graph, as in the SavedModel and TFLite files.

`sample` is not converted: its draws come from TensorFlow's counter-based
generator seeded by an input, and ONNX has no random operator whose seed
is an input (`RandomNormal` fixes it when the graph is built). The
manifest says so; a client draws codes from the prior and runs `decode`.

Conversion uses `tf2onnx.convert.from_function` on the same functions the
SavedModel holds. Any other endpoint that does not convert (an operator
without an ONNX equivalent, a graph ONNX Runtime cannot load) is refused
with the reason, before anything is written.
"""

import json
import os

import numpy as np
import tensorflow as tf

from kerasae.errors import ExportError
from kerasae.export import endpoints as kae_endpoints

DEFAULT_OPSET = 17
# tf2onnx converts from opset 13; the upper end is the newest opset both
# tf2onnx (`OPSET_TO_IR_VERSION`) and the installed onnx know.
MIN_OPSET = 13
# Endpoint -> file name (the SavedModel's `serving_default` reconstructs).
FILES = {"serving_default": "reconstruct", "encode": "encode",
         "decode": "decode", "score": "score", "classify": "classify"}
NOT_CONVERTED = {
    "sample": "ONNX has no random operator whose seed is an input (the "
              "SavedModel's sample takes one); draw codes from the prior "
              "and run decode.onnx",
}
EXTRA = ('--formats=onnx needs the onnx extra: pip install "kerasae[onnx]" '
         '(from a checkout: pip install -e ".[onnx]")')


def modules():
    """`(tf2onnx, onnx, onnxruntime)`, or an `ExportError` naming the extra.

    Raises:
        ExportError: one of them is not installed.
    """
    try:
        import onnx
        import onnxruntime
        import tf2onnx
    except ImportError:
        raise ExportError(EXTRA) from None
    return tf2onnx, onnx, onnxruntime


def check_opset(opset):
    """Refuses an opset that tf2onnx or the installed onnx cannot write.

    Raises:
        ExportError: `opset` is outside `MIN_OPSET`..the newest opset
            tf2onnx and the installed onnx both support.
    """
    tf2onnx, onnx, _ = modules()
    highest = min(onnx.defs.onnx_opset_version(),
                  max(tf2onnx.constants.OPSET_TO_IR_VERSION))
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= highest:
        raise ExportError(
            f"--onnx_opset={opset}: choose an opset from {MIN_OPSET} to "
            f"{highest} (the newest tf2onnx and onnx both write)")


def _name_batch_axis(proto):
    """Names the unknown leading axis of every input and output `batch`."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


def convert(name, fn, spec, opset):
    """One endpoint as a checked ONNX `ModelProto`.

    Args:
        name: the endpoint's name, for messages.
        fn: the endpoint function (`kerasae.export.endpoints`).
        spec: its input `tf.TensorSpec`s.
        opset: the ONNX opset to target.

    Returns:
        The model, loadable by ONNX Runtime.

    Raises:
        ExportError: an operator has no ONNX equivalent, or the graph does
            not load; the message names the endpoint and the reason.
    """
    tf2onnx, onnx, onnxruntime = modules()
    function = tf.function(fn, input_signature=spec, autograph=False)
    try:
        proto, _ = tf2onnx.convert.from_function(
            function, input_signature=spec, opset=opset)
    except Exception as error:  # tf2onnx raises many kinds
        raise ExportError(
            f"the {name} endpoint does not convert to ONNX opset {opset}: "
            f"{type(error).__name__}: {_first_line(error)}") from None
    # tf2onnx keeps an operator it cannot map under its TensorFlow name.
    unknown = sorted({n.op_type for n in proto.graph.node if n.domain in (
        "", "ai.onnx") and not onnx.defs.has(n.op_type)})
    if unknown:
        raise ExportError(
            f"the {name} endpoint does not convert to ONNX opset {opset}: "
            f"no ONNX operator for TensorFlow's {', '.join(unknown)}")
    _name_batch_axis(proto)
    try:
        onnx.checker.check_model(proto)
        onnxruntime.InferenceSession(proto.SerializeToString(),
                                     providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ExportError(
            f"the {name} endpoint converts to an ONNX graph that does not "
            f"load: {_first_line(error)}") from None
    return proto


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "no message"


def _signature(values):
    """`{name: {"shape": [...], "dtype": ...}}` of graph inputs or outputs."""
    from onnx import helper
    found = {}
    for value in values:
        tensor = value.type.tensor_type
        found[value.name] = {
            "shape": [d.dim_param or d.dim_value for d in tensor.shape.dim],
            "dtype": np.dtype(helper.tensor_dtype_to_np_dtype(
                tensor.elem_type)).name}
    return found


def export_onnx(config, model, preprocessing, folder, opset=DEFAULT_OPSET,
                scoring=None):
    """Writes an `.onnx` file per endpoint and `manifest.json` to `folder`.

    Every graph is converted and checked before the first file is written.

    Args:
        config: the run's `Config`.
        model: the trained model.
        preprocessing: its `Preprocessing`.
        folder: output folder (created).
        opset: ONNX opset (`check_opset` range).
        scoring: `{"score", "threshold", "params"}` of the `score` graph
            (`kerasae.export.read_scoring`), or None for the unfitted one.

    Returns:
        The names of the files written, sorted.

    Raises:
        ExportError: the extra is missing, or an endpoint does not convert.
    """
    _, onnx, _ = modules()
    check_opset(opset)
    scoring = scoring or {"score": None, "threshold": None, "params": None}
    found = kae_endpoints.endpoints(
        model, preprocessing, scoring["threshold"], scoring["score"],
        scoring["params"])
    protos = {name: convert(name, fn, spec, opset)
              for name, (fn, spec) in found.items() if name in FILES}
    os.makedirs(folder, exist_ok=True)
    graphs = {}
    for name, proto in protos.items():
        file = f"{FILES[name]}.onnx"
        onnx.save(proto, os.path.join(folder, file))
        graphs[FILES[name]] = {
            "file": file, "bytes": os.path.getsize(os.path.join(folder, file)),
            "inputs": _signature(proto.graph.input),
            "outputs": _signature(proto.graph.output)}
    manifest = {
        "model": config.model.name,
        "opset": opset,
        "input_shape": list(model.config.input_shape),
        "code_size": model.latent_dim,
        "graphs": graphs,
        "not_converted": {k: v for k, v in NOT_CONVERTED.items()
                          if k in found},
        "includes_preprocessing": True,
        "preprocessing": preprocessing.to_dict(),
        "score": (scoring["score"] or kae_endpoints.score_name(model))
        if "score" in protos else None,
        "threshold": scoring["threshold"] if "score" in protos else None,
    }
    with open(os.path.join(folder, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return sorted(g["file"] for g in graphs.values()) + ["manifest.json"]


def run(path, **inputs):
    """Runs one `.onnx` file with ONNX Runtime on NumPy inputs.

    Args:
        path: an `.onnx` file written by `export_onnx`.
        **inputs: input name -> array (float32 `x`/`code`, int32 `label`).

    Returns:
        Output name -> NumPy array.
    """
    _, _, onnxruntime = modules()
    session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))
