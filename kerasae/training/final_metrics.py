"""The end of a run: its model file, final metrics and summary.

The metrics come from one pass over the evaluation split (test, else
validation), in memory or streamed alike; model-specific figures (the
prior match of adversarial models) from a bounded sample of it.
"""

import math
import os

import numpy as np

from kerasae import workdir as wd
from kerasae.evaluation import categorical
from kerasae.evaluation import prior_match


def save_model(model, target):
    """Saves `model` to `target` atomically (a reader never sees half)."""
    temporary = target + ".tmp.keras"
    model.save(temporary)
    os.replace(temporary, target)


def evaluate(model, config, bundle, batch_size):
    """Final metrics on the test split, or validation when there is none,
    in one pass over it (in memory or streamed).

    Returns:
        `{"model", "dataset", "epochs", "eval_split", <split>: {...}}`;
        `mse` is per element in model space ([0, 1] pixels, standardized
        features), `mse_raw` per element in the data's original units.
    """
    split = bundle.eval_split
    labels = model.uses_labels
    results = model.evaluate(split.dataset(batch_size, labels=labels),
                             verbose=0, return_dict=True)
    results = {k: float(v) for k, v in results.items()}
    if not labels:
        results["mse_raw"] = raw_squared_error(
            model, split, bundle.preprocessing, batch_size)
    # Only the models with such figures draw the sample: held in memory,
    # it is most of a streamed run's peak.
    if model.uses_prior or model.can_classify:
        sample = split.sample(config.data.sample_size)
        # The adversarial autoencoder's prior-match statistics, the GAN's
        # sample MMD, on a bounded sample of a streamed split.
        results.update(prior_match.model_metrics(model, sample.x, sample.y))
        if sample is not split and model.uses_prior:
            results["sample_size"] = len(sample)
        # The categorical aae's classes (or clusters) against the labels.
        if model.can_classify:
            results.update(categorical.report(
                model, bundle.train.sample(config.data.sample_size),
                sample))
    return wd.metrics_record(config, bundle.eval_split_name, len(split),
                             results, data_path=bundle.data_path)


def raw_squared_error(model, split, preprocessing, batch_size):
    """Mean squared reconstruction error in raw units, in one pass."""
    total, elements = 0.0, 0
    for x in split.dataset(batch_size).as_numpy_iterator():
        # A local call: `predict_on_batch` under a multi-worker strategy
        # would gather every worker's batch.
        reconstruction = np.asarray(model(x, training=False))
        error = preprocessing.invert(reconstruction) - \
            preprocessing.invert(x)
        total += float(np.sum(np.square(error, dtype=np.float64)))
        elements += error.size
    return total / max(elements, 1)


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
