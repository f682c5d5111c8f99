"""Training throughput streaming an image folder against holding it.

    python bench/make_image_folder.py --count=10000 --out=/tmp/kae-img-10k
    python bench/streaming_throughput.py --folder=/tmp/kae-img-10k

The conv autoencoder (`--hidden_units=32,64`, code 32) at batch 128 on the
same folder of 64x64 RGB PNGs, loaded both ways: `--data_path=memory`
(decoded once into float32 arrays) and `--data_path=stream` (decoded
batch by batch by `tf.data`, in parallel, every epoch). Each round runs
one `fit` per path of `--epochs` epochs of `--steps` steps and takes the
median epoch after the first (which compiles and fills the shuffle
buffer); rounds alternate the paths so both see the same machine load.
The decode cost is measured alone: the streamed training pipeline
iterated with no model, in images per second and CPU microseconds per
image.
"""

import statistics
import time

import benchlib
from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("folder", "/tmp/kae-img-10k", "Image folder.")
flags.DEFINE_integer("steps", 40, "Steps per timed epoch.")
flags.DEFINE_integer("epochs", 4, "Epochs per fit (the first is dropped).")
flags.DEFINE_integer("rounds", 2, "Alternating rounds.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")


def main(argv):
    del argv
    info = benchlib.start(0, "tensorflow", FLAGS.batch_size)
    import dataclasses

    from kerasae import data as kae_data
    from kerasae import training
    from kerasae.config import DataConfig

    bundles = {path: kae_data.load(DataConfig(
        dataset=FLAGS.folder, data_path=path)) for path in
        ("memory", "stream")}
    config = benchlib.resolved_config(
        bundles["memory"], name="ae", arch="conv", batch_size=FLAGS.batch_size,
        steps_per_epoch=FLAGS.steps, matmul_precision="float32")
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, latent_dim=32))
    t = config.train
    epochs = {path: [] for path in bundles}
    for _ in range(FLAGS.rounds):
        for path, bundle in bundles.items():
            model = benchlib.build_compiled(config)
            train_ds, _ = training.datasets(model, bundle, t, 1)
            clock = benchlib.epoch_clock()
            model.fit(train_ds, epochs=FLAGS.epochs,
                      steps_per_epoch=FLAGS.steps, verbose=0,
                      callbacks=[clock])
            epochs[path] += [FLAGS.steps * FLAGS.batch_size / seconds
                             for seconds, _ in clock.epochs[1:]]
    rates = {path: round(statistics.median(v), 1)
             for path, v in epochs.items()}
    # The decode cost alone: the streamed pipeline without a model.
    stream = bundles["stream"].train.dataset(
        FLAGS.batch_size, shuffle=True, repeat=True)
    iterator = iter(stream)
    next(iterator)  # fills the shuffle buffer
    batches = 2 * FLAGS.steps
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    images = batches * FLAGS.batch_size
    record = {
        "bench": "streaming_throughput", "machine": info,
        "folder": FLAGS.folder, "batch_size": FLAGS.batch_size,
        "samples_per_second": rates,
        "all": {p: [round(v, 1) for v in e] for p, e in epochs.items()},
        "stream_over_memory": round(rates["stream"] / rates["memory"], 3),
        "decode_images_per_second": round(images / seconds, 1),
        "decode_cpu_us_per_image": round(1e6 * cpu / images, 1),
    }
    print(f"memory {rates['memory']} samples/s, stream {rates['stream']} "
          f"samples/s (ratio {record['stream_over_memory']}); decoding "
          f"alone {record['decode_images_per_second']} images/s, "
          f"{record['decode_cpu_us_per_image']} CPU us per image")
    benchlib.emit(record)


if __name__ == "__main__":
    app.run(main)
