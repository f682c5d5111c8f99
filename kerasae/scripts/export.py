r"""Exports a trained workdir for TF Serving, devices and ONNX Runtime.

    kerasae-export --workdir=runs/vae --export_dir=serving
    kerasae-export --workdir=runs/vae --export_dir=serving \
        --formats=tflite --quantize=dynamic,float16,int8
    kerasae-export --workdir=runs/vae --export_dir=serving \
        --formats=saved_model,tflite,onnx

writes `serving/<name>/<version>/` (a SavedModel with signatures
serving_default, encode, decode, score and, for generative models, sample),
`serving/tflite/<name>/` (encoder/decoder `.tflite` files) and, with
`onnx`, `serving/onnx/<name>/` (one `.onnx` graph per endpoint). See
docs/serving.md. The logic lives in `kerasae.export`, which takes
arguments, never flags.
"""

import os

from absl import flags

from kerasae import cli
from kerasae import export as kae_export

FLAGS = flags.FLAGS

flags.DEFINE_string("workdir", None, "Training workdir holding model.keras.")
flags.DEFINE_string("export_dir", None, "Base folder for the artifacts.")
flags.DEFINE_list("formats", list(kae_export.DEFAULT_FORMATS),
                  "What to write: saved_model, tflite, onnx (onnx needs "
                  "pip install -e \".[onnx]\").")
flags.DEFINE_list("quantize", [],
                  "Extra TFLite variants: dynamic, float16, int8.")
flags.DEFINE_string("name", None, "Model name in the layout (default: the "
                    "model's name, e.g. vae).")
flags.DEFINE_integer("version", None, "SavedModel version (default: the "
                     "next free integer).")
flags.DEFINE_bool("overwrite", False, "Replace an existing version and "
                  "TFLite / ONNX folder.")
flags.DEFINE_integer("onnx_opset", None, "ONNX opset of the .onnx files "
                     "(default 17).")
flags.mark_flags_as_required(["workdir", "export_dir"])


def export():
    """Exports the run in `--workdir` and prints what was written."""
    written = kae_export.export(
        FLAGS.workdir, FLAGS.export_dir, formats=FLAGS.formats,
        quantize=FLAGS.quantize, name=FLAGS.name, version=FLAGS.version,
        overwrite=FLAGS.overwrite, onnx_opset=FLAGS.onnx_opset)
    if written["saved_model"]:
        print(f"SavedModel {written['name']} version {written['version']}: "
              f"{written['saved_model']}")
        if written["score"]:
            at = "" if written["threshold"] is None \
                else f", is_anomaly above {written['threshold']:.6g}"
            print(f"  signature score: {written['score']}{at}")
    for path in written["tflite"]:
        print(f"TFLite: {path} ({os.path.getsize(path):,} bytes)")
    for path in written["onnx"]:
        print(f"ONNX: {path} ({os.path.getsize(path):,} bytes)")


main = cli.run_main(export)


def run():
    """The `kerasae-export` console script."""
    cli.run(main, __doc__)


if __name__ == "__main__":
    run()
