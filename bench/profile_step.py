"""Where a training step's time goes, per TensorFlow op.

    python bench/profile_step.py --model=conv1d_ae --isa=avx2
    python bench/profile_step.py --model=conv_vae --steps=40

Builds one of `vs_references.py`'s models as `train.py` does (its thread
pools, precision and input pipeline), trains a warm-up epoch, then
`--steps` steps under TensorFlow's profiler, and sums the time of each op
type over the threads that run ops (the executor's `Process` frames, which
hold the ops, are left out). Prints samples per second without the
profiler (median of `--rounds` epochs of `--steps`), wall and summed op
milliseconds per step under it, and each op type's milliseconds per step
and share of the summed op time. `--isa=avx2` caps oneDNN as
`vs_references.py` does; `--keras_conv1d --thread_pools=tensorflow`
profiles the conv1d model with Keras's layers and TensorFlow's pools, as
it trained before kerasae's fused layers and its pools for small
convolutions.
"""

import collections
import glob
import os
import statistics
import tempfile
import time

import benchlib
import vs_references
from absl import app
from absl import flags

# vs_references's flags (--isa, --rounds, --batch_size, --data_dir,
# --thread_pools) are this script's too.

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "dense_vae", list(vs_references.MODELS),
                  "Model to profile.")
flags.DEFINE_integer("steps", 400, "Profiled (and timed) steps.")
flags.DEFINE_integer("top", 12, "Op types listed.")
flags.DEFINE_bool("keras_conv1d", False,
                  "Keras's own Conv1D layers instead of kerasae's fused ones.")


def op_times(logdir):
    """Op type -> summed picoseconds on the op threads of the profile."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    path = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    totals = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                kind = name.rsplit(":", 1)[-1]
                if ":" in name and kind != "Process":
                    totals[kind] += event.duration_ps
    return totals


def main(argv):
    del argv
    FLAGS.models = [FLAGS.model]
    if FLAGS.isa == "avx2":
        os.environ.update(vs_references.CAPS)
    info = vs_references.start(FLAGS.model)
    if FLAGS.keras_conv1d:
        import keras

        from kerasae.models import conv1d
        conv1d.Conv1D = keras.layers.Conv1D
        conv1d.Conv1DTranspose = keras.layers.Conv1DTranspose
    import tensorflow as tf
    folder = tempfile.mkdtemp(prefix="kae-profile-")
    bundle = (vs_references.series_bundle(folder)
              if FLAGS.model == "conv1d_ae"
              else benchlib.load_mnist(FLAGS.data_dir))
    work, steps = vs_references.kerasae_candidate(FLAGS.model, bundle,
                                                  FLAGS.steps)
    rates = []
    for _ in range(FLAGS.rounds):
        samples, seconds, _ = work()
        rates.append(samples / seconds)
    tf.profiler.experimental.start(os.path.join(folder, "profile"))
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    totals = op_times(os.path.join(folder, "profile"))
    summed = sum(totals.values())
    print(f"{FLAGS.model}, isa {FLAGS.isa}, {info['matmul_precision']}, "
          f"pools {info['thread_pools']}: "
          f"{statistics.median(rates):.0f} samples/s; under the profiler "
          f"{wall * 1e3 / steps:.2f} ms wall and "
          f"{summed / 1e9 / steps:.2f} ms of ops per step")
    for kind, ps in totals.most_common(FLAGS.top):
        print(f"  {kind:<40} {ps / 1e9 / steps:8.3f} ms "
              f"{100 * ps / summed:5.1f}%")


if __name__ == "__main__":
    app.run(main)
