"""Export of a trained run: a SavedModel for TF Serving, TFLite and ONNX.

`export(workdir, export_dir, ...)` is the entry point (`export.py` calls
it); `endpoints` defines the served functions, `tflite` converts them and
`litert_runner` runs a `.tflite` file as an app would; `onnx_export`
converts them to ONNX graphs for ONNX Runtime.
"""

from kerasae.export.saved_model import DEFAULT_FORMATS
from kerasae.export.saved_model import FORMATS
from kerasae.export.saved_model import export
from kerasae.export.saved_model import next_version
from kerasae.export.saved_model import read_scoring
from kerasae.export.saved_model import read_threshold
from kerasae.export.saved_model import rest_response
from kerasae.export.tflite import QUANTIZATIONS

__all__ = [
    "DEFAULT_FORMATS", "FORMATS", "QUANTIZATIONS", "export", "next_version",
    "read_scoring", "read_threshold", "rest_response",
]
