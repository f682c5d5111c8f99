"""Shared pieces of the performance benchmarks in `bench/`.

The machine these run on is shared, so one timing says little. Every
benchmark here therefore measures its candidates *in rounds*, one short
measurement of each candidate per round, and reports the median and the
best over rounds: load that comes and goes hits every candidate alike.
`machine()` records what the numbers were measured on, load included.

Thread settings must be applied before TensorFlow starts its runtime, so
`start` is called first thing in each script.
"""

import json
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# None: TFDS's default, which honours TFDS_DATA_DIR.
DEFAULT_DATA_DIR = os.environ.get("TFDS_DATA_DIR")


def define_thread_pools_flag(default="tensorflow"):
    """Defines `--thread_pools`, `train.py`'s flag, for a benchmark."""
    from absl import flags

    from kerasae.config import THREAD_POOLS
    flags.DEFINE_enum(
        "thread_pools", default, THREAD_POOLS,
        "train.py's --thread_pools, when --threads=0 (auto: as resolved "
        "for the MNIST VAE at the benchmark's batch size).")


def start(threads, thread_pools="tensorflow", batch_size=128):
    """Pins TensorFlow to `threads`, or sets its thread pools; returns
    `machine()` with the pools in use under `thread_pools` (`pinned`,
    `tensorflow` or `inter_op`).

    `threads` > 0 goes to the intra-op pool (the one matmuls use) and the
    inter-op pool gets one thread, so the process uses about `threads`
    cores, as `torch.set_num_threads(threads)` does. With `threads` 0 the
    pools are `thread_pools` as `train.py --thread_pools` sets them
    (`tensorflow`, `inter_op`, or `auto` resolved for the MNIST VAE at
    `batch_size`, which is what `train.py` picks for it).
    """
    import tensorflow as tf
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        pools = "pinned"
    else:
        from kerasae.config import Config
        from kerasae.config import DataConfig
        from kerasae.config import TrainConfig
        from kerasae.training import precision
        from kerasae.training import threads as kae_threads
        config = Config(
            data=DataConfig(dataset="mnist", data_dir=DEFAULT_DATA_DIR),
            train=TrainConfig(batch_size=batch_size,
                              thread_pools=thread_pools))
        pools = kae_threads.configure(config, precision.resolve("auto"))
    return dict(machine(), thread_pools=pools)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or `platform`)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib():
    """Total memory in GiB from /proc/meminfo."""
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        return round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def machine():
    """What the numbers were measured on: CPU, memory, versions, load."""
    import keras
    import numpy as np
    import tensorflow as tf
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": memory_gib(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }


def load_mnist(data_dir=DEFAULT_DATA_DIR, validation_fraction=0.0):
    """MNIST as `train.py` loads it: a `DataBundle` in [0, 1]."""
    from kerasae import data as kae_data
    from kerasae.config import DataConfig
    return kae_data.load(DataConfig(
        dataset="mnist", data_dir=data_dir,
        validation_fraction=validation_fraction))


def resolved_config(bundle, name="vae", arch="dense", hidden_units=None,
                    **train):
    """A `Config` for `bundle`, resolved as `kerasae.training` does.

    `hidden_units` None takes the arch's default
    (`kerasae.config.ARCH_HIDDEN_UNITS`: 400 dense, 32,64 conv).
    """
    from kerasae import training
    from kerasae.config import Config
    from kerasae.config import ModelConfig
    from kerasae.config import TrainConfig
    config = Config(
        model=ModelConfig(name=name, arch=arch, hidden_units=None
                          if hidden_units is None else tuple(hidden_units)),
        train=TrainConfig(**train))
    return training.resolve(config, bundle)


def build_compiled(config):
    """The model of `config`, built and compiled as `kerasae.training.train`
    does (in the matmul precision `config.train` resolves to here)."""
    import keras

    from kerasae import training
    from kerasae.training import precision
    keras.utils.set_random_seed(config.train.seed)
    return training.build_for_training(
        config, precision.resolve(config.train.matmul_precision))


def epoch_clock(before=None, after=None):
    """A Keras callback timing every epoch, wall clock and process CPU.

    The clock runs from `on_epoch_begin` to `on_epoch_end`, which holds
    every step and the input pipeline, but not the teardown of the
    dataset iterator when `fit` returns: with tf.data's autotuning on,
    that teardown can stall for up to a second, once per `fit` call,
    which a run of many epochs in one `fit` (`train.py`) never pays
    between epochs.

    Args:
        before: optional `before(epoch)`, run before the clock starts.
        after: optional `after(epoch, seconds, cpu_seconds, logs)`, run
            after it stops.

    Returns:
        The callback; its `epochs` lists `(seconds, cpu_seconds)`.
    """
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            if before:
                before(epoch)
            self.started = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started[0]
            cpu_seconds = time.process_time() - self.started[1]
            self.epochs.append((seconds, cpu_seconds))
            if after:
                after(epoch, seconds, cpu_seconds, logs)

    return EpochClock()


def timed_fit(model, data, samples, **fit_kwargs):
    """One epoch of `model.fit`, timed by `epoch_clock`.

    Returns:
        `(samples, seconds, cpu_seconds)`, what `measure_rounds` takes.
    """
    clock = epoch_clock()
    model.fit(data, epochs=1, verbose=0, callbacks=[clock], **fit_kwargs)
    return (samples, *clock.epochs[0])


def whole_executions(steps, steps_per_execution):
    """`steps` rounded up to whole executions of `steps_per_execution`.

    Keras runs whole executions over a repeated dataset, so a benchmark
    that asks `fit` for other step counts trains more than it counts.
    """
    return steps_per_execution * -(-steps // steps_per_execution)


def measure_rounds(candidates, rounds):
    """Measures each candidate once per round, alternating.

    Args:
        candidates: name -> callable that runs some work and returns the
            number of samples it processed, or `timed_fit`'s
            `(samples, seconds, cpu_seconds)`.
        rounds: how many times to measure each.

    Returns:
        name -> `{"median", "best", "all"}` samples per second (wall clock)
        plus `cpu_median`, samples per second of process CPU time.
    """
    wall = {name: [] for name in candidates}
    cpu = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, work in candidates.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            found = work()
            if isinstance(found, tuple):
                samples, seconds, cpu_seconds = found
            else:
                samples = found
                seconds = time.perf_counter() - started
                cpu_seconds = time.process_time() - cpu_started
            wall[name].append(samples / seconds)
            cpu[name].append(samples / cpu_seconds)
    return {name: summary(wall[name], cpu[name]) for name in candidates}


def summary(values, cpu_values=None):
    """Median, best and all values, rounded for printing."""
    found = {
        "median": round(statistics.median(values), 1),
        "best": round(max(values), 1),
        "all": [round(v, 1) for v in values],
    }
    if cpu_values:
        found["cpu_median"] = round(statistics.median(cpu_values), 1)
    return found


def peak_rss_mib():
    """Peak resident memory of this process so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def emit(record):
    """Prints one JSON line (what RESULTS.md tables are built from)."""
    print(json.dumps(record, sort_keys=True), flush=True)


def save_result(name, result):
    """Writes `result` to `bench/results/<name>.json` and prints it without
    its `machine` entry; returns the path."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "results", f"{name}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"},
                     indent=2, sort_keys=True))
    return out


def peak_table(bench, runs, measure, **record):
    """Runs each command of `runs` (name -> command line) through
    `measure` (-> peak RSS MiB, seconds, exit code), prints a table and
    emits the JSON record `{"bench", "machine", **record, "runs"}`."""
    info = machine()
    results = {}
    width = max([len(name) for name in runs] + [3]) + 2
    print(f"{'run':<{width}} {'peak RSS MiB':>13} {'seconds':>8}")
    for name, command in runs.items():
        peak, seconds, code = measure(command)
        results[name] = {"peak_rss_mib": peak, "seconds": seconds,
                         "exit_code": code, "command": " ".join(command)}
        print(f"{name:<{width}} {peak:>13.1f} {seconds:>8.1f}"
              + ("" if code == 0 else f"  (exit code {code})"), flush=True)
    info["load_average_after"] = machine()["load_average"]
    emit({"bench": bench, "machine": info, **record, "runs": results})
