"""Evaluating a whole run: `evaluate_run(workdir, options)`.

Loads the run, computes the model's metrics (`kerasae.evaluation.metrics`),
the anomaly report (`kerasae.evaluation.anomaly`) or, for a series, the
step scores (`kerasae.evaluation.series_scores`), and the pictures
(`kerasae.evaluation.plots`); merges them into `RUN/metrics.json` and
publishes `RUN/report.html`. `EvalOptions` are the `kerasae.evaluate`
flags.
"""

import dataclasses
import typing

from kerasae import data as kae_data
from kerasae import lock
from kerasae import workdir as wd
from kerasae.config import option
from kerasae.errors import ConfigError
from kerasae.evaluation import anomaly
from kerasae.evaluation import inference
from kerasae.evaluation import prior_match
from kerasae.evaluation import report
from kerasae.evaluation import series_scores
from kerasae.evaluation.metrics import active_units
from kerasae.evaluation.metrics import negative_elbo
from kerasae.evaluation.metrics import nll_estimate
from kerasae.evaluation.metrics import pca_reconstruction_mse
from kerasae.evaluation.metrics import reconstruction_metrics


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `evaluate_run` computes (the `kerasae.evaluate` flags).

    Attributes:
        score: anomaly score, one of `anomaly.SCORES`; `auto` is
            `reconstruction_and_code`, which the exported `score`
            signature serves from `threshold.json`.
        threshold_method: `quantile`, `mean_std`, `max`, or `auto`
            (`quantile`; for series `kerasae.evaluation.series_scores.AUTO`).
        quantile: quantile of normal validation scores (`quantile`).
        std_multiplier: k in mean + k std (`mean_std`).
        normal_classes: labels that count as normal; () uses the run's
            `train_classes`, and without either no labels are used.
        iwae_k: importance samples of the IWAE bound (0: skip it).
        iwae_examples: test examples the IWAE bound is averaged over
            (0: all of them; its cost is k decoder passes per example).
        plots: write PNG files under `RUN/plots/`.
        batch_size: examples per forward pass.
        test_dataset: a file to score instead of the run's test split,
            read like the training file (`--test_dataset`).
        probes: codes as features (`kerasae.evaluation.probes`):
            linear-probe and 5-NN accuracy, when the data has labels; for
            a model that samples per label, how often a classifier of the
            data recognises the label in the samples
            (`kerasae.evaluation.conditional`).
        probe_examples: training examples the probes are fitted on (0:
            all).
        series_scoring: `auto` (= `recorded`), `live` or `recorded`: the
            step score of a series that the headline figures use
            (`kerasae.evaluation.series_scores`).
        iwae_paper: k = 5000 on the whole test set (Burda et al.'s
            protocol), whatever `iwae_k` and `iwae_examples` say.
    """

    # Plain strings, checked by `validate`, so a bad value gets the same
    # one-line `error:` and exit status 2 as every other mistake.
    score: str = option(
        "auto", "Anomaly score: auto (= reconstruction_and_code), "
        "reconstruction_nll, neg_elbo_at_mean, squared_error, bernoulli_kl, "
        "code_mahalanobis, reconstruction_and_code.")
    threshold_method: str = option(
        "auto", "auto (series: the largest score of every normal window; "
        "otherwise quantile), quantile, mean_std or max.")
    quantile: float = option(
        0.99, "Quantile of normal validation scores (quantile method).")
    std_multiplier: float = option(
        3.0, "k in mean + k * std (mean_std method).")
    normal_classes: tuple = option(
        (), "Labels that are normal, e.g. 0; others count as anomalies "
        "(default: --train_classes).")
    iwae_k: int = option(
        100, "VAE: importance samples of the IWAE bound (5000: Burda et "
        "al.'s protocol; 0: skip).")
    iwae_examples: int = option(
        1000, "VAE: test examples for the IWAE bound (0: all).")
    plots: bool = option(True, "Write PNG files to RUN/plots/.")
    batch_size: int = option(512, "Examples per pass.")
    test_dataset: typing.Optional[str] = option(
        None, "A second file read with the training file's columns and "
        "preprocessing, scored as the test split.")
    probes: bool = option(
        True, "Codes as features: linear-probe and 5-NN test accuracy, next "
        "to raw inputs and PCA; samples per label (conditional vae, "
        "supervised aae) judged by a classifier of the data (labelled "
        "data only).")
    probe_examples: int = option(
        10000, "Training examples the probes are fitted on (0: all).")
    series_scoring: str = option(
        "auto", "Series: which step score the headline figures, flags and "
        "picture use: recorded (every window holding the step, the error "
        "at it per feature), live (the window ending at the step, what a "
        "device computes), or auto (recorded); scores.csv has both.")
    iwae_paper: bool = option(
        False, "VAE: the test NLL as Burda et al. report it, k=5000 on the "
        "whole test set (overrides --iwae_k and --iwae_examples; hours on "
        "a CPU).")


def validate(options):
    """Checks option values before any data is loaded.

    Raises:
        ConfigError: with a one-line message naming the flag.
    """
    if options.score not in anomaly.SCORES:
        raise ConfigError(f"--score={options.score!r} is not one of: "
                          f"{', '.join(anomaly.SCORES)}")
    if options.series_scoring not in series_scores.SCORINGS:
        raise ConfigError(
            f"--series_scoring={options.series_scoring!r} is not one of: "
            f"{', '.join(series_scores.SCORINGS)}")
    if options.threshold_method not in anomaly.METHODS:
        raise ConfigError(
            f"--threshold_method={options.threshold_method!r} is not one "
            f"of: {', '.join(anomaly.METHODS)}")
    if not 0 < options.quantile < 1:
        raise ConfigError(
            f"--quantile={options.quantile}: must lie strictly between 0 "
            "and 1")
    for flag in ("iwae_k", "iwae_examples", "probe_examples"):
        if getattr(options, flag) < 0:
            raise ConfigError(f"--{flag}={getattr(options, flag)}: must be "
                              ">= 0")
    if options.batch_size <= 0:
        raise ConfigError(f"--batch_size={options.batch_size}: must be > 0")


def model_metrics(model, bundle, options):
    """Reconstruction, PCA-baseline, VAE and model-specific metrics."""
    split = bundle.eval_split
    result = {"split": bundle.eval_split_name,
              "num_examples": int(len(split.x))}
    if model.has_encoder:
        x_hat = inference.reconstruct(model, split.x, split.y,
                                      options.batch_size)
        result.update(reconstruction_metrics(split.x, x_hat,
                                             bundle.data_range))
        result["pca_mse"] = pca_reconstruction_mse(
            bundle.train.x, split.x, model.latent_dim)
    if model.is_variational:
        # A conditional VAE's bounds are on log p(x|y); other models
        # ignore the labels.
        y = split.y
        result["neg_elbo"] = float(negative_elbo(
            model, split.x, batch_size=options.batch_size, labels=y).mean())
        result["active_units"] = active_units(model, split.x,
                                              labels=y)[0]
        k, examples = (5000, 0) if options.iwae_paper else \
            (options.iwae_k, options.iwae_examples)
        if k:
            subset = split.x[:examples or len(split.x)]
            result.update(nll_estimate(
                model, subset, k, getattr(bundle, "binarize", "none"),
                None if y is None else y[:len(subset)]))
    # A conditional model's codes are computed from the label itself, so
    # a classifier on them measures no feature learning: no probes.
    if model.has_encoder and options.probes and split.y is not None \
            and bundle.train.y is not None \
            and not model.encoder_uses_labels:
        from kerasae.evaluation import probes
        result["features"] = probes.feature_report(
            model, bundle.train, split, options.probe_examples)
    if model.uses_labels and model.is_generative and options.probes \
            and bundle.train.y is not None:
        # Do samples drawn for label c look like class c to a classifier
        # of the real data?
        from kerasae.evaluation import conditional
        result["samples_by_label"] = conditional.sample_label_accuracy(
            model, bundle.train.x, bundle.train.y,
            train_examples=options.probe_examples,
            test=None if split.y is None else (split.x, split.y))
    if model.can_classify:
        # Classes (semi-supervised) or clusters of the categorical aae.
        from kerasae.evaluation import categorical
        result.update(categorical.report(model, bundle.train, split,
                                         options.batch_size))
    if hasattr(model, "codebook_usage"):
        # The VQ-VAE's codebook perplexity on the whole split.
        result.update(model.codebook_usage(split.x))
    # The adversarial autoencoder's prior-match statistics, the GAN's
    # sample MMD.
    result.update(prior_match.model_metrics(model, split.x, split.y))
    return result


def evaluate_run(workdir, options=EvalOptions()):
    """Evaluates a finished run and merges the results into `metrics.json`.

    Args:
        workdir: a training workdir holding `model.keras`.
        options: an `EvalOptions`.

    Returns:
        The merged metrics dict: `evaluation` (model metrics), `anomaly`
        (when the model has an encoder) and `plots` (file names). The
        run's `report.html` shows them (`kerasae.evaluation.report`).

    Raises:
        KerasaeError: no model in `workdir`, a bad option, or
            `normal_classes` for data without labels; one-line messages.
    """
    validate(options)
    # Evaluation writes metrics.json, threshold.json and plots/: it is a
    # writer like training, so it waits for no one and no one for it.
    with lock.hold(workdir, "evaluate"):
        metrics = _evaluate_run(workdir, options)
        # RUN/report.html, and the pictures in the TensorBoard logs.
        report.publish(workdir, metrics)
        return metrics


def _evaluate_run(workdir, options):
    """`evaluate_run` under the workdir's lock."""
    from kerasae.evaluation import plots  # matplotlib is only needed here

    config, model, _ = wd.load_run(workdir)
    # Read before anything is written: a damaged file refuses the run.
    metrics = wd.read_json(workdir, wd.METRICS) or {}
    data_config = wd.data_config(config, workdir)
    if options.test_dataset:
        data_config = dataclasses.replace(
            data_config, test_dataset=options.test_dataset)
    bundle = kae_data.load(data_config, seed=config.train.seed)
    # A streamed run is judged on a bounded sample of each split.
    bundle = bundle.sample(config.data.sample_size)
    if series_scores.is_series(bundle):  # a score per time step
        return _merge(workdir, metrics, series_scores.run(
            model, bundle, options, workdir))
    normal_classes = tuple(options.normal_classes) or (
        tuple(config.data.train_classes)
        if bundle.eval_split.y is not None else ())
    if options.normal_classes and bundle.eval_split.y is None:
        anomaly.anomaly_labels(None, normal_classes)  # raises DataError
    new = {"evaluation": model_metrics(model, bundle, options)}
    scores = labels = threshold = None
    if model.has_encoder:
        new["anomaly"], scores, labels = anomaly.detect(
            model, bundle, options, workdir, normal_classes)
        threshold = new["anomaly"]["threshold"]
    if options.plots:
        new["plots"] = plots.plot_run(
            model, bundle, workdir, scores, threshold, labels,
            score_name=new.get("anomaly", {}).get("score", ""))
    sampled = bundle.sampled
    if sampled is not None:
        for key in ("evaluation", "anomaly"):
            if key in new:
                new[key]["sample_size"] = sampled
    return _merge(workdir, metrics, new)


def _merge(workdir, metrics, new):
    """Merges `new` sections into `metrics` (what `RUN/metrics.json` held)
    and writes it; returns the whole."""
    metrics["evaluation"] = {**metrics.get("evaluation", {}),
                             **new["evaluation"]}
    # A new anomaly report replaces the old whole: mixing the figures of
    # two thresholds or two sets of normal classes would mislead.
    for key in ("anomaly", "plots"):
        if key in new:
            metrics[key] = new[key]
    wd.write_json(workdir, wd.METRICS, metrics)
    return metrics
