"""Training: config -> data -> model -> fit under a strategy -> workdir.

`train(config)` is what `train.py` calls. It resolves the data-dependent
fields of the config, refuses a workdir that holds another run, resumes an
interrupted one (`kerasae.run_state.Backup`), and writes `model.keras`,
`metrics.json` and a one-screen summary. One process writes a workdir at
a time (`kerasae.lock`); a killed run resumes with the numbers of an
uninterrupted one (`kerasae.run_state`).

Under `MultiWorkerMirroredStrategy` every worker runs `train`; only the
chief writes the workdir, and the others restore from it, so a resumed
multi-worker run needs the workdir on a filesystem all workers share.
"""

import contextlib
import dataclasses
import math
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
from kerasae import run
from kerasae import run_state
from kerasae import workdir as wd
from kerasae.data import arrays as kae_arrays
from kerasae.data import binarize
from kerasae.data import period
from kerasae.data import streaming
from kerasae.errors import ConfigError
from kerasae.errors import WorkdirError
from kerasae.evaluation import prior_match
from kerasae.models import adversarial
from kerasae.models import replicas
from kerasae.training import describe
from kerasae.training import distribute
from kerasae.training import optimizers
from kerasae.training import precision as kae_precision
from kerasae.training import schedules
from kerasae.training import streamed as streamed_run
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
    data = dataclasses.replace(
        config.data, data_path=streaming.STREAM
        if streaming.is_streaming(bundle) else streaming.MEMORY)
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
            (`kerasae.data.arrays.from_memory`). It is kept in the workdir
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
    # The thread pools are fixed when TensorFlow's runtime starts. Files
    # load without starting it, so their input size is known first; a
    # TFDS dataset's comes from its metadata (loading it starts it).
    bundle = source = arrays = None
    if data is not None:
        arrays = kae_arrays.from_memory(data)
        source = kae_arrays.memory_source(*arrays)
        config = dataclasses.replace(config, data=dataclasses.replace(
            config.data, dataset=kae_data.ARRAYS))
    if not kae_data.is_tfds_name(config.data.dataset):
        bundle = kae_data.load(
            config.data if source else run.data_config(config, workdir),
            seed=t.seed, source=source)
    input_size = None if bundle is None else math.prod(bundle.input_shape)
    pools = kae_threads.configure(config, precision, input_size)
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
        bundle = kae_data.load(config.data, seed=t.seed)  # TFDS
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
        print_summary(workdir, metrics)
        return metrics
    # Checked before anything is written: a damaged backup or checkpoint
    # is refused, and history.csv is cut back to the backup's epochs.
    resumed_at = run_state.check(workdir) if state == "resume" else 0
    if chief and arrays is not None:
        keep_arrays(workdir, *arrays)
    if chief:
        wd.write_json(workdir, wd.CONFIG, config.to_dict())
        wd.write_json(workdir, wd.PREPROCESSING,
                      bundle.preprocessing.to_dict())
        run_state.trim_history(workdir, resumed_at)

    with strategy.scope():
        model = build_for_training(config, precision)
        if config.model.output_bias == "data_mean":
            schedules.initialize_output_bias(model, bundle.train.x)
    # Where each epoch's batches start, set as the epoch begins: the data
    # order is a function of (seed, epoch), so a resumed run replays it.
    # (A streamed split is read in its files' order through a shuffle
    # buffer; it has no position.)
    position = tf.Variable(0, dtype=tf.int64, trainable=False)
    train_ds, val_ds = datasets(model, bundle, t, replicas, position,
                                shard=streaming.worker_shard(strategy))
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
        callbacks=(([run_state.DataPosition(position, steps)] if steps
                    else [])
                   + standard_callbacks(workdir, chief, t.keep_checkpoints)
                   + schedules.callbacks(config, steps) + list(callbacks)),
        verbose=verbose,
    )
    seconds = time.time() - started
    if precision != "float32":
        # What is saved, evaluated and exported is float32.
        with strategy.scope():
            model = float32_copy(model, config)
    if chief:
        save_model(model, wd.path(workdir, wd.MODEL))
    # Every worker evaluates: the metrics are reduced across workers.
    metrics = evaluate(model, config, bundle, t.batch_size)
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
        print_summary(workdir, metrics)
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


def build_for_training(config, precision="float32"):
    """The model of `config`, built in `precision` and compiled to train.

    Call it inside the strategy's scope.

    Args:
        config: a resolved `Config`.
        precision: `float32` or `bfloat16`
        (`kerasae.training.precision.resolve`).
    """
    with kae_precision.matmul_precision(precision):
        model = models.build(config.model)
    compile_model(model, config)
    return model


def float32_copy(model, config):
    """A float32 model of `config` holding `model`'s weights.

    The weights of a bfloat16-precision model are float32 already; only
    its matmuls round their inputs, so the copy is exact. The optimizers'
    state comes along, so `model.keras` holds it as it would otherwise.
    Call it inside the strategy's scope.
    """
    copy = models.build(config.model)
    compile_model(copy, config)
    copy.set_weights(model.get_weights())
    for source, target in zip(_optimizers(model), _optimizers(copy)):
        if source.built and not target.built:
            target.build(copy.trainable_variables)
        for to, value in zip(target.variables, source.variables):
            to.assign(value)
    return copy


def _optimizers(model):
    """The model's optimizers (the adversarial models have several)."""
    return [getattr(model, role) for role in model.optimizer_roles]


def compile_model(model, config):
    """Compiles `model` with the optimizers `config.train` asks for.

    Call it inside the strategy's scope. Each role of the model's
    `optimizer_roles` (the adversarial models have several) gets the
    fused Adam at its `TrainConfig` learning rate.
    """
    t = config.train
    if replicas.num_replicas() > 1 and t.steps_per_execution > 1:
        # Keras 3 cannot run several steps per call under a multi-replica
        # strategy ("You must feed a value for placeholder tensor",
        # keras-team/keras#19246), so replicas take one step per call.
        t = dataclasses.replace(t, steps_per_execution=1)
    chosen = {}
    for role, (rate, beta_1) in model.optimizer_roles.items():
        # A role's own beta_1 (the adversarial updates' 0.5) wins over
        # --adam_beta1; beta_2 and epsilon are the flags' for every role.
        chosen[role] = optimizers.Adam(
            getattr(t, rate),
            beta_1=t.adam_beta1 if beta_1 is None else beta_1,
            beta_2=t.adam_beta2, epsilon=t.adam_epsilon)
    model.compile(
        **chosen,
        steps_per_execution=execution_steps(t),
        jit_compile=t.jit_compile,
    )


def execution_steps(train_config):
    """The steps per execution to compile with: at most
    `steps_per_execution`, and a divisor of `steps_per_epoch` when set.

    Keras 3.15 runs whole executions over a repeated dataset: with
    `steps_per_epoch=5` and 20 steps per execution an "epoch" trains 20
    steps, and with 25 it trains 40. A divisor keeps every epoch exact.
    (An epoch that ends with its dataset, the default, is exact anyway:
    its last execution stops at the end of the data.)
    """
    t = train_config
    steps = t.steps_per_execution
    if t.steps_per_epoch:
        steps = max(d for d in range(1, min(steps, t.steps_per_epoch) + 1)
                    if t.steps_per_epoch % d == 0)
    return steps


def datasets(model, bundle, train_config, replicas, position=None,
             shard=None):
    """Training and validation `tf.data` pipelines for `model`.

    `position`: the int64 variable that says where the training batches
    start (`kerasae.data.make_dataset`); None: at the start. `shard`
    (`(workers, index)`, from `streaming.worker_shard`) makes a streamed
    training split read only this worker's files.
    """
    labels = model.uses_labels
    train = bundle.train
    if labels and train.y is None:
        raise ConfigError(
            f"--model={model.config.name} with labels needs a labelled "
            "dataset (a TFDS label, a --label_column, or class subfolders)")
    if streaming.is_streaming(bundle):
        return streamed_run.datasets(bundle, train_config, labels,
                                     replicas > 1, shard)
    # Several replicas need equal shares of every batch, so the last,
    # smaller batch of an epoch is dropped there.
    drop = replicas > 1
    if drop and len(train.x) < train_config.batch_size:
        raise ConfigError(
            f"--batch_size={train_config.batch_size} is larger than the "
            f"{len(train.x)} training examples; use a smaller batch")
    train_ds = kae_data.make_dataset(
        train.x, train.y if labels else None,
        batch_size=train_config.batch_size, shuffle=True,
        seed=train_config.seed,
        repeat=train_config.steps_per_epoch is not None,
        drop_remainder=drop, position=position)
    if bundle.binarize == "dynamic":
        # Fresh Bernoulli pixels every time an example is used.
        train_ds = train_ds.apply(binarize.dynamic_binarizer(
            train_config.seed, position)).prefetch(2)
    val = bundle.validation
    val_ds = kae_data.make_dataset(
        val.x, val.y if labels else None,
        batch_size=train_config.batch_size)
    return train_ds, val_ds


def standard_callbacks(workdir, chief=True, keep_checkpoints=3):
    """Resume, checkpoints, TensorBoard logs and a CSV history.

    A non-chief worker only restores the chief's backup: it writes nothing.
    The backup comes last: an epoch's history row and checkpoint are
    written before the backup that says the epoch is done
    (`kerasae.run_state`).
    """
    if not chief:
        return [run_state.Backup(workdir, write=False)]
    kept = [run_state.RetainedCheckpoints(workdir, keep_checkpoints)] \
        if keep_checkpoints else []
    return [
        keras.callbacks.TensorBoard(wd.path(workdir, wd.LOGS)),
        keras.callbacks.CSVLogger(wd.path(workdir, wd.HISTORY), append=True),
        *kept,
        run_state.Backup(workdir),
    ]


def save_model(model, target):
    """Saves `model` to `target` atomically (a reader never sees half)."""
    temporary = target + ".tmp.keras"
    model.save(temporary)
    os.replace(temporary, target)


def evaluate(model, config, bundle, batch_size):
    """Final metrics on the test split, or validation when there is none.

    Returns:
        `{"model", "dataset", "epochs", "eval_split", <split>: {...}}`;
        `mse` is per element in model space ([0, 1] pixels, standardized
        features), `mse_raw` per element in the data's original units.
    """
    if streaming.is_streaming(bundle):
        return streamed_run.evaluate(model, config, bundle, batch_size)
    split = bundle.eval_split
    labels = model.uses_labels
    ds = kae_data.make_dataset(
        split.x, split.y if labels else None, batch_size=batch_size)
    results = model.evaluate(ds, verbose=0, return_dict=True)
    results = {k: float(v) for k, v in results.items()}
    reconstruction = model.predict(
        kae_data.make_dataset(split.x, batch_size=batch_size), verbose=0) \
        if not labels else None
    if reconstruction is not None:
        pre = bundle.preprocessing
        raw_error = pre.invert(reconstruction) - pre.invert(split.x)
        results["mse_raw"] = float(np.mean(np.square(raw_error)))
    # The adversarial autoencoder's prior-match statistics, the GAN's
    # sample MMD.
    results.update(prior_match.model_metrics(model, split.x, split.y))
    return wd.metrics_record(config, bundle.eval_split_name, len(split.x),
                             results)


def print_summary(workdir, metrics):
    """Prints where the run's files are and its final metrics."""
    split = metrics.get("eval_split", "test")
    values = metrics.get(split, {})
    shown = ", ".join(
        f"{k}={v:.4g}" for k, v in sorted(values.items())
        if isinstance(v, (int, float)) and math.isfinite(v))
    precision = metrics.get("matmul_precision", "float32")
    trained = "" if precision == "float32" else \
        f", trained with {precision} matmuls"
    print(f"\nkerasae: {metrics.get('model')} on {metrics.get('dataset')}, "
          f"{metrics.get('epochs')} epochs{trained}")
    if "built" in metrics:
        print(f"  built:    {metrics['built']}, "
              f"{metrics['parameters']:,} parameters")
    if "window_auto" in metrics:
        print(f"  window:   {metrics['window_auto']} (--window=auto)")
    print(f"  {split} metrics: {shown}")
    print(f"  model:    {wd.path(workdir, wd.MODEL)}")
    print(f"  metrics:  {wd.path(workdir, wd.METRICS)}")
    print(f"  logs:     {wd.path(workdir, wd.LOGS)} "
          f"(tensorboard --logdir {wd.path(workdir, wd.LOGS)})")
    print(f"  disk:     {wd.human_size(wd.disk_usage(workdir))} in {workdir}")

