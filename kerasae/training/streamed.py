"""Training pipelines and final metrics of a run whose data streams.

`kerasae.training` hands over here when the bundle's splits are
`StreamSplit`s (`kerasae.data.streaming`): the training pipeline shuffles
files or rows and a bounded buffer instead of one permutation of arrays,
and the final metrics come from one streaming pass over the evaluation
split, so nothing holds a whole split in memory. Model-specific figures
(`evaluation_metrics`) are computed on a bounded sample, whose size the
metrics record.
"""

import numpy as np

from kerasae import workdir as wd
from kerasae.data import streaming
from kerasae.errors import ConfigError
from kerasae.evaluation import prior_match


def datasets(bundle, train_config, labels, drop_remainder, shard=None):
    """Training and validation pipelines of a streamed bundle.

    Args:
        bundle: a streamed `DataBundle`.
        train_config: the run's `TrainConfig`.
        labels: yield `(x, y)` pairs.
        drop_remainder: drop each epoch's last, smaller batch (several
            replicas need equal shares).
        shard: None or `(workers, index)`: this worker's share of the
            training files or rows.

    Returns:
        `(train_ds, val_ds)`.

    Raises:
        ConfigError: the batch is larger than the training split.
    """
    t = train_config
    train = bundle.train
    if drop_remainder and train.num_examples is not None and \
            train.num_examples < t.batch_size:
        raise ConfigError(
            f"--batch_size={t.batch_size} is larger than the "
            f"{train.num_examples} training examples; use a smaller batch")
    train_ds = train.dataset(
        t.batch_size, labels=labels, shuffle=True, seed=t.seed,
        repeat=t.steps_per_epoch is not None, drop_remainder=drop_remainder,
        shard=shard)
    val_ds = bundle.validation.dataset(t.batch_size, labels=labels)
    return train_ds, val_ds


def raw_squared_error(model, split, batch_size):
    """Mean squared reconstruction error in raw units, in one pass.

    Returns:
        `(mse_raw, examples)`.
    """
    pre = split.preprocessing
    total, elements, examples = 0.0, 0, 0
    for x in split.dataset(batch_size).as_numpy_iterator():
        # A local call: `predict_on_batch` under a multi-worker strategy
        # would gather every worker's batch.
        reconstruction = np.asarray(model(x, training=False))
        error = pre.invert(reconstruction) - pre.invert(x)
        total += float(np.sum(np.square(error, dtype=np.float64)))
        elements += error.size
        examples += len(x)
    return total / max(elements, 1), examples


def evaluate(model, config, bundle, batch_size):
    """`kerasae.training.evaluate` for a streamed bundle.

    Returns:
        The same keys as the in-memory `evaluate`, plus `data_path` and,
        when the model adds its own figures, `sample_size`.
    """
    split = bundle.eval_split
    labels = model.uses_labels
    ds = split.dataset(batch_size, labels=labels)
    results = model.evaluate(ds, verbose=0, return_dict=True)
    results = {k: float(v) for k, v in results.items()}
    examples = len(split)
    if not labels:
        results["mse_raw"], examples = raw_squared_error(
            model, split, batch_size)
    if model.uses_prior:
        # The prior-match figures on a bounded sample of the split.
        sample = split.sample(config.data.sample_size)
        results.update(prior_match.model_metrics(model, sample.x, sample.y))
        results["sample_size"] = int(len(sample))
    return wd.metrics_record(config, bundle.eval_split_name, examples,
                             results, data_path=streaming.STREAM)
