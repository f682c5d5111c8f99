"""Training: config -> data -> model -> fit under a strategy -> workdir.

`train(config)` is what `train.py` calls. It resolves the data-dependent
fields of the config, refuses a workdir that holds another run, resumes an
interrupted one (`kerasae.resume.Backup`), and writes `model.keras`,
`metrics.json` and a one-screen summary. One process writes a workdir at
a time (`kerasae.lock`); a killed run resumes with the numbers of an
uninterrupted one (`kerasae.training.resume`).

Under `MultiWorkerMirroredStrategy` every worker runs `train`; only the
chief writes the workdir, and the others restore from it, so a resumed
multi-worker run needs the workdir on a filesystem all workers share.
"""

import contextlib
import dataclasses
import os
import shutil
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from kerasae import config as kae_config
from kerasae import data as kae_data
from kerasae import lock
from kerasae import models
from kerasae import workdir as wd
from kerasae.data import period
from kerasae.data import tables
from kerasae.errors import ConfigError
from kerasae.errors import WorkdirError
from kerasae.models import adversarial
from kerasae.training import build
from kerasae.training import describe
from kerasae.training import distribute
from kerasae.training import final_metrics
from kerasae.training import labelled
from kerasae.training import precision as kae_precision
from kerasae.training import resume
from kerasae.training import schedules
from kerasae.training import threads as kae_threads


def resolve(config, bundle):
    """Fills the data-dependent model fields from a loaded `DataBundle`.

    Raises:
        ConfigError: a Bernoulli likelihood was asked for data outside
            [0, 1], or a supervised model for data without labels.
    """
    m = config.model
    loss = m.reconstruction_loss
    if loss == "auto":
        loss = "bce" if bundle.unit_range else "mse"
    if loss == "bce" and not bundle.unit_range:
        raise ConfigError(
            f"--reconstruction_loss=bce needs data in [0, 1], but "
            f"{bundle.name} is standardized real-valued data (range "
            f"{bundle.data_range[0]:.3g} to {bundle.data_range[1]:.3g}); use "
            "--reconstruction_loss=mse"
        )
    activation = m.output_activation
    if activation == "auto":
        activation = "sigmoid" if loss == "bce" or bundle.unit_range \
            else "linear"
    model = dataclasses.replace(
        m,
        reconstruction_loss=loss,
        output_activation=activation,
        input_shape=tuple(int(d) for d in bundle.input_shape),
        data_range=tuple(float(v) for v in bundle.data_range),
        num_classes=int(bundle.num_classes),
    )
    # config.json records the path the data took (`--data_path=auto`)
    # and the window `--window=auto` chose.
    data = dataclasses.replace(config.data, data_path=bundle.data_path)
    if config.data.window == period.AUTO:
        data = dataclasses.replace(data, window=int(bundle.input_shape[0]))
    return dataclasses.replace(config, model=model, data=data)


def window_choice(config, bundle):
    """Why `--window=auto` chose its window, or None for a given one."""
    if config.data.window != period.AUTO:
        return None
    _, reason = period.resolve_window(config.data, bundle.train.x.series)
    return f"{bundle.input_shape[0]} steps: {reason}"


def train(config, workdir, overwrite=False, callbacks=(), verbose=None,
          data=None):
    """Trains the model `config` describes and fills `workdir`.

    Args:
        config: a `Config`.
        workdir: folder for config, checkpoints, logs, model and metrics.
        overwrite: replace a previous run in `workdir`.
        callbacks: extra Keras callbacks (tests use them to interrupt).
        verbose: Keras `fit` verbosity; None: a progress bar on a terminal,
            one line per epoch otherwise (logs stay readable).
        data: data held in memory instead of `config.data.dataset`: an
            array, an `(x, y)` pair or a batched `tf.data.Dataset`
            (`kerasae.data.tables.from_memory`). It is kept in the workdir
            (`data.npz`), so the run resumes, evaluates and exports
            without it; `config.data.dataset` becomes `<arrays>`.

    Returns:
        The metrics dict written to `metrics.json`.

    Raises:
        KerasaeError: bad config, data or workdir, with a one-line message.
    """
    kae_config.validate(config)
    # Unknown names and bad prior settings fail before the data loads.
    if models.MODELS.get(config.model.name).uses_prior:
        adversarial.validate_config(config)
    # The lock comes before anything is loaded or written: a second run
    # on a busy workdir stops at once. Only the chief writes, so only the
    # chief of a multi-worker run holds it.
    writer = lock.is_writer(config.train.strategy)
    with lock.hold(workdir) if writer else contextlib.nullcontext():
        return _train(config, workdir, overwrite, callbacks, verbose, data)


def _train(config, workdir, overwrite, callbacks, verbose, data):
    """`train` under the workdir's lock."""
    t = config.train
    keras.utils.set_random_seed(t.seed)
    precision = kae_precision.resolve(t.matmul_precision)
    # The thread pools and a multi-worker strategy are fixed when
    # TensorFlow's runtime starts, and reading may start it (tf.data). A
    # file's reader opens without it, so the input shape is known first; a
    # series loads with NumPy; a TFDS dataset's shape comes from its
    # metadata (`kerasae.training.threads`).
    bundle = source = arrays = input_shape = None
    data_config = config.data
    if data is not None:
        source, arrays = tables.from_memory(data)
        config = dataclasses.replace(config, data=dataclasses.replace(
            config.data, dataset=kae_data.ARRAYS))
        data_config = config.data
    elif not kae_data.is_tfds_name(config.data.dataset):
        data_config = wd.data_config(config, workdir)
    if data_config.window is not None:
        bundle = kae_data.load(data_config, seed=t.seed)
        input_shape = bundle.input_shape
    elif not kae_data.is_tfds_name(data_config.dataset):
        source = source or kae_data.open_source(data_config)
        input_shape = source.info.shape
    pools = kae_threads.configure(config, precision, input_shape)
    strategy = distribute.get_strategy(t.strategy, t.cpu_devices)
    replicas = strategy.num_replicas_in_sync
    if t.batch_size % replicas:
        raise ConfigError(
            f"--batch_size={t.batch_size} does not divide evenly across "
            f"{replicas} replicas; use a multiple of {replicas}"
        )
    # Other workers of a multi-worker run compute but never write.
    chief = distribute.is_chief(strategy)
    if bundle is None:
        bundle = kae_data.load(data_config, seed=t.seed, source=source)
    chosen_window = window_choice(config, bundle)
    config = resolve(config, bundle)
    if chief or not overwrite:
        state = wd.prepare(workdir, config.to_dict(),
                           overwrite=overwrite and chief)
    else:
        state = "new"  # the chief is clearing the workdir
    if state != "new" and arrays is not None:
        check_kept_arrays(workdir, *arrays)
    if state == "finished":
        metrics = wd.read_json(workdir, wd.METRICS)
        print(f"{workdir} already holds this finished run; pass --overwrite "
              "to train it again.")
        final_metrics.print_summary(workdir, metrics)
        return metrics
    # Checked before anything is written: a damaged backup or checkpoint
    # is refused, and history.csv is cut back to the backup's epochs.
    resumed_at = resume.check(workdir) if state == "resume" else 0
    if chief and arrays is not None:
        keep_arrays(workdir, *arrays)
    if chief:
        wd.write_json(workdir, wd.CONFIG, config.to_dict())
        wd.write_json(workdir, wd.PREPROCESSING,
                      bundle.preprocessing.to_dict())
        resume.trim_history(workdir, resumed_at)

    with strategy.scope():
        model = build.build_for_training(config, precision)
        if config.model.output_bias == "data_mean":
            schedules.initialize_output_bias(model, bundle.train_mean())
    # Where each epoch's batches start, set as the epoch begins: the data
    # order is a function of (seed, epoch) on both paths, so a resumed run
    # replays it.
    position = tf.Variable(0, dtype=tf.int64, trainable=False)
    train_ds, val_ds = datasets(model, bundle, t, replicas, position,
                                shard=distribute.worker_shard(strategy))
    if model.uses_labelled_subset:
        # Each step also classifies a batch of the labelled subset.
        train_ds = labelled.attach(train_ds, bundle, config, replicas,
                                   position)
    cardinality = int(train_ds.cardinality())
    steps = t.steps_per_epoch or (cardinality if cardinality > 0 else None)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    started = time.time()
    model.fit(
        train_ds,
        epochs=t.epochs,
        steps_per_epoch=t.steps_per_epoch,
        validation_data=val_ds,
        shuffle=False,  # the pipeline shuffles, seeded
        callbacks=(([resume.DataPosition(position, steps)] if steps
                    else [])
                   + standard_callbacks(workdir, chief, t.keep_checkpoints)
                   + schedules.callbacks(config, steps) + list(callbacks)),
        verbose=verbose,
    )
    seconds = time.time() - started
    if precision != "float32":
        # What is saved, evaluated and exported is float32.
        with strategy.scope():
            model = build.float32_copy(model, config)
    if chief:
        final_metrics.save_model(model, wd.path(workdir, wd.MODEL))
    # Every worker evaluates: the metrics are reduced across workers.
    metrics = final_metrics.evaluate(model, config, bundle, t.batch_size)
    metrics["built"] = describe.describe_model(model, config.model.arch)
    metrics["parameters"] = int(model.count_params())
    metrics["train_seconds"] = round(seconds, 1)
    metrics["matmul_precision"] = precision
    if chosen_window:
        metrics["window_auto"] = chosen_window
    metrics["thread_pools"] = pools
    if chief:
        wd.write_json(workdir, wd.METRICS, metrics)
        # Finished: model.keras and metrics.json replace the resume state.
        shutil.rmtree(wd.path(workdir, wd.BACKUP), ignore_errors=True)
        final_metrics.print_summary(workdir, metrics)
    return metrics


def check_kept_arrays(workdir, x, y):
    """Refuses arrays other than those a run in `workdir` was trained on.

    Raises:
        WorkdirError: they differ (the config alone cannot tell: two
            datasets of one shape give the same config).
    """
    path = wd.path(workdir, wd.ARRAYS)
    if not os.path.exists(path):
        return
    with np.load(path, allow_pickle=False) as kept:
        same = (np.array_equal(kept["x"], x)
                and ("y" in kept.files) == (y is not None)
                and (y is None or np.array_equal(kept["y"], y)))
    if not same:
        raise WorkdirError(
            f"--workdir={workdir} holds a run trained on other arrays; use "
            "a new workdir, or overwrite=True to replace that run")


def keep_arrays(workdir, x, y):
    """Writes the arrays a run trains on to `workdir/data.npz` (atomic)."""
    target = wd.path(workdir, wd.ARRAYS)
    if os.path.exists(target):
        return  # `check_kept_arrays` found the same arrays
    temporary = target + ".tmp.npz"
    np.savez(temporary, **({"x": x} if y is None else {"x": x, "y": y}))
    os.replace(temporary, target)


def datasets(model, bundle, train_config, replicas, position=None,
             shard=None):
    """Training and validation `tf.data` pipelines for `model`.

    `position`: the int64 variable that says where the training batches
    start (`kerasae.data.Split.dataset`); None: at the start. `shard`
    (`(workers, index)`, from `distribute.worker_shard`) makes a streamed
    training split read only this worker's share. A semi-supervised
    model's labelled batches are paired on by `labelled.attach`.
    """
    labels = model.uses_labels
    train, t = bundle.train, train_config
    if labels and not train.has_labels:
        raise ConfigError(
            f"--model={model.config.name} with labels needs a labelled "
            "dataset (a TFDS label, a --label_column, or class subfolders)")
    # Several replicas need equal shares of every batch, so the last,
    # smaller batch of an epoch is dropped there.
    drop = replicas > 1
    if drop and len(train) < t.batch_size:
        raise ConfigError(
            f"--batch_size={t.batch_size} is larger than the {len(train)} "
            "training examples; use a smaller batch")
    train_ds = train.dataset(
        t.batch_size, labels=labels, shuffle=True, seed=t.seed,
        repeat=t.steps_per_epoch is not None, drop_remainder=drop,
        position=position, shard=shard)
    # The semi-supervised aae judges its classes on validation labels.
    val_ds = bundle.validation.dataset(
        t.batch_size, labels=labels or model.uses_labelled_subset)
    return train_ds, val_ds


def standard_callbacks(workdir, chief=True, keep_checkpoints=3):
    """Resume, checkpoints, TensorBoard logs and a CSV history.

    A non-chief worker only restores the chief's backup: it writes nothing.
    The backup comes last: an epoch's history row and checkpoint are
    written before the backup that says the epoch is done
    (`kerasae.training.resume`).
    """
    if not chief:
        return [resume.Backup(workdir, write=False)]
    kept = [resume.RetainedCheckpoints(workdir, keep_checkpoints)] \
        if keep_checkpoints else []
    return [
        keras.callbacks.TensorBoard(wd.path(workdir, wd.LOGS)),
        keras.callbacks.CSVLogger(wd.path(workdir, wd.HISTORY), append=True),
        *kept,
        resume.Backup(workdir),
    ]
