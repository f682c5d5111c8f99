r"""Exports a trained workdir for TF Serving, devices and ONNX Runtime.

    python export.py --workdir=runs/vae --export_dir=serving
    python export.py --workdir=runs/vae --export_dir=serving \
        --formats=tflite --quantize=dynamic,float16,int8

writes `serving/<name>/<version>/` (a SavedModel with signatures
serving_default, encode, decode, score and, for generative models, sample)
and `serving/tflite/<name>/` (encoder/decoder `.tflite` files). See
docs/serving.md. The same script is installed as `kerasae-export`; it lives
in `kerasae.scripts.export`, the logic in `kerasae.export`, which takes
arguments, never flags.
"""

from kerasae.scripts.export import FLAGS  # noqa: F401  (tests parse them)
from kerasae.scripts.export import main  # noqa: F401  (tests call it)
from kerasae.scripts.export import run

if __name__ == "__main__":
    run()
