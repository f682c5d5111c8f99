"""Inference latency and size on disk: Keras, SavedModel, TFLite and ONNX.

    python bench/latency.py                          # trains a short VAE
    python bench/latency.py --workdir=runs/vae-mnist --rounds=7

Exports a trained workdir (a short VAE run is trained first when
`--workdir` holds none) with `kerasae.export.export(..., formats=
("saved_model", "tflite", "onnx"), quantize=("dynamic", "int8"))`, then
times the encoder and the decoder at batch 1
and batch 256 in each form a user can run them:

- `keras`: `model.encode(x)` / `model.decode(code)`, eager, in Python;
- `keras_fn`: the same calls inside one `tf.function` (traced once);
- `saved_model`: the `encode` / `decode` signatures of the SavedModel,
  as TF Serving would run them (preprocessing inside);
- `tflite_float32`, `tflite_dynamic`, `tflite_int8`: the `.tflite` files
  through `kerasae.export.litert_runner.LiteRTModel` (LiteRT's default threads);
- `onnx`: `encode.onnx` / `decode.onnx` in one ONNX Runtime
  `InferenceSession` each (CPU provider; its default threads, or
  `--onnx_threads` intra-op threads without spin-waiting).

Each measurement is `--calls` back-to-back calls (results copied to
NumPy); the forms alternate in rounds and the median per-call time over
rounds is reported, with `reconstruct` = encode + decode. Sizes on disk
are `model.keras`, the SavedModel folder and each `.tflite` pair.
"""

import os
import time

import benchlib
import numpy as np
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "/tmp/kerasae-bench/latency-run",
                    "A trained workdir (trained here if it holds none).")
flags.DEFINE_string("export_dir", "/tmp/kerasae-bench/latency-export",
                    "Where the artifacts are written (replaced).")
flags.DEFINE_integer("train_epochs", 2, "Epochs of the short run.")
flags.DEFINE_list("batch_sizes", ["1", "256"], "Batch sizes to time.")
flags.DEFINE_integer("rounds", 5, "Measurements of each form.")
flags.DEFINE_integer("calls", 200, "Calls per measurement at batch 1 "
                     "(divided by the batch size above it, at least 10).")
flags.DEFINE_string("data_dir", benchlib.DEFAULT_DATA_DIR, "TFDS folder.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: default).")
flags.DEFINE_integer("onnx_threads", 0, "ONNX Runtime intra-op threads, "
                     "spin-waiting off (0: its defaults).")


def trained_workdir():
    """`FLAGS.workdir`, after training a short VAE there if needed."""
    from kerasae import training
    from kerasae.config import Config
    from kerasae.config import DataConfig
    from kerasae.config import TrainConfig
    if not os.path.exists(os.path.join(FLAGS.workdir, "model.keras")):
        training.train(Config(
            data=DataConfig(data_dir=FLAGS.data_dir),
            train=TrainConfig(epochs=FLAGS.train_epochs)),
            FLAGS.workdir, overwrite=True, verbose=0)
    return FLAGS.workdir


def folder_bytes(path):
    """Bytes of a file, or of every file below a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def forms(model, saved, tflite_dir, onnx_dir, batch, x_raw, x_model):
    """name -> (encode call, decode call) at one batch size."""
    import tensorflow as tf

    from kerasae.export.litert_runner import LiteRTModel
    code = np.asarray(model.encode(x_model))
    found = {
        "keras": (lambda: model.encode(x_model).numpy(),
                  lambda: model.decode(code).numpy()),
    }
    encode_fn = tf.function(model.encode)
    decode_fn = tf.function(model.decode)
    found["keras_fn"] = (lambda: encode_fn(x_model).numpy(),
                         lambda: decode_fn(code).numpy())
    enc_sig, dec_sig = saved.signatures["encode"], saved.signatures["decode"]
    x_tensor, code_tensor = tf.constant(x_raw), tf.constant(code)
    found["saved_model"] = (
        lambda: {k: v.numpy() for k, v in enc_sig(x=x_tensor).items()},
        lambda: {k: v.numpy() for k, v in dec_sig(code=code_tensor).items()})
    for mode in ("float32", "dynamic", "int8"):
        suffix = "" if mode == "float32" else f".{mode}"
        # One interpreter per batch size: resizing is not what is timed.
        encoder = LiteRTModel(os.path.join(tflite_dir,
                                           f"encoder{suffix}.tflite"))
        decoder = LiteRTModel(os.path.join(tflite_dir,
                                           f"decoder{suffix}.tflite"))
        found[f"tflite_{mode}"] = (
            lambda e=encoder: e.encode(x_raw),
            lambda d=decoder: d.decode(code))
    import onnxruntime
    options = onnxruntime.SessionOptions()
    if FLAGS.onnx_threads:
        options.intra_op_num_threads = FLAGS.onnx_threads
        options.add_session_config_entry("session.intra_op.allow_spinning",
                                         "0")
    sessions = {part: onnxruntime.InferenceSession(
        os.path.join(onnx_dir, f"{part}.onnx"), options,
        providers=["CPUExecutionProvider"]) for part in ("encode", "decode")}
    found["onnx"] = (
        lambda: sessions["encode"].run(None, {"x": x_raw}),
        lambda: sessions["decode"].run(None, {"code": code}))
    return found


def per_call(fn, calls):
    """Seconds per call of `calls` back-to-back calls."""
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def main(argv):
    del argv
    info = benchlib.start(FLAGS.threads)
    import tensorflow as tf

    from kerasae import export as kae_export
    from kerasae import training
    workdir = trained_workdir()
    written = kae_export.export(workdir, FLAGS.export_dir,
                                formats=kae_export.FORMATS,
                                quantize=("dynamic", "int8"), version=1,
                                overwrite=True)
    tflite_dir = os.path.dirname(written["tflite"][0])
    onnx_dir = os.path.dirname(written["onnx"][0])
    config, model, pre = training.load_run(workdir)
    saved = tf.saved_model.load(written["saved_model"])
    sizes = {"model.keras": folder_bytes(os.path.join(workdir,
                                                      "model.keras")),
             "saved_model": folder_bytes(written["saved_model"])}
    for mode in ("", ".dynamic", ".int8"):
        sizes[f"tflite{mode or '.float32'}"] = sum(
            folder_bytes(os.path.join(tflite_dir, f"{p}{mode}.tflite"))
            for p in ("encoder", "decoder"))
    sizes["onnx"] = sum(folder_bytes(os.path.join(onnx_dir, f"{p}.onnx"))
                        for p in ("encode", "decode"))
    benchlib.emit({"bench": "latency", "machine": info, "bytes": sizes})
    bundle = benchlib.load_mnist(FLAGS.data_dir)
    print(f"\n{'form':<16} {'batch':>5} {'encode ms':>10} {'decode ms':>10} "
          f"{'reconstruct ms':>15}")
    for batch in map(int, FLAGS.batch_sizes):
        x_model = bundle.test.x[:batch]
        x_raw = pre.invert(x_model).astype(np.float32)
        calls = max(10, FLAGS.calls // batch)
        table = forms(model, saved, tflite_dir, onnx_dir, batch, x_raw,
                      x_model)
        times = {name: {"encode": [], "decode": []} for name in table}
        for name, pair in table.items():  # warm up: tracing, allocation
            for fn in pair:
                per_call(fn, 3)
        for _ in range(FLAGS.rounds):
            for name, (encode, decode) in table.items():
                times[name]["encode"].append(per_call(encode, calls))
                times[name]["decode"].append(per_call(decode, calls))
        for name, parts in times.items():
            ms = {part: 1e3 * float(np.median(v))
                  for part, v in parts.items()}
            ms["reconstruct"] = ms["encode"] + ms["decode"]
            benchlib.emit({"bench": "latency", "form": name, "batch": batch,
                           "ms": {k: round(v, 4) for k, v in ms.items()}})
            print(f"{name:<16} {batch:>5} {ms['encode']:>10.3f} "
                  f"{ms['decode']:>10.3f} {ms['reconstruct']:>15.3f}")
    print("\nbytes on disk: " + ", ".join(
        f"{k} {v:,}" for k, v in sizes.items()))
    print(f"load average after: {benchlib.machine()['load_average']}")


if __name__ == "__main__":
    app.run(main)
