"""Evaluation metrics of a trained autoencoder, and `evaluate_run`.

- Reconstruction (`reconstruction_metrics`): per-element MSE, PSNR and the
  Bernoulli cross-entropy in nats per example, on model-space data.
- VAE: the negative ELBO (`negative_elbo`), the importance-weighted bound
  log p_k(x) (`iwae_bound`; Burda et al. 2016, Eq. 8) and the number of
  active latent units (`active_units`; Burda et al. 2016, Section 5.2).
- A PCA baseline (`pca_reconstruction_mse`): the best *linear* code of the
  same size (Baldi and Hornik 1989), to show what the nonlinearity buys.

`evaluate_run(workdir, options)` loads a run, computes all of these plus the
anomaly report (`kerasae.evaluation.anomaly`) and the pictures
(`kerasae.evaluation.plots`), and merges them into `RUN/metrics.json`.
"""

import dataclasses
import math
import typing

import keras
import numpy as np

from kerasae import data as kae_data
from kerasae import lock
from kerasae import workdir as wd
from kerasae.config import option
from kerasae.data import binarize as binarize_mod
from kerasae.errors import ConfigError
from kerasae.evaluation import anomaly
from kerasae.evaluation import inference
from kerasae.evaluation import pca
from kerasae.evaluation import prior_match
from kerasae.evaluation import report
from kerasae.evaluation import series_scores
from kerasae.models import losses


def reconstruction_metrics(x, x_hat, data_range=(0.0, 1.0)):
    """MSE, PSNR and (for data in [0, 1]) binary cross-entropy.

    Args:
        x: inputs, `(n, ...)`, model space.
        x_hat: reconstructions, same shape.
        data_range: (min, max) of the data; PSNR uses max - min as peak.

    Returns:
        `mse` (per element), `psnr` (dB, mean over examples of
        10 log10(peak^2 / mse_i)) and, when x and x_hat lie in [0, 1],
        `bce` (nats per example, summed over elements; predictions clipped
        to [1e-7, 1 - 1e-7]).
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    x_hat = np.asarray(x_hat, np.float64).reshape(len(x), -1)
    per_example = np.mean(np.square(x - x_hat), axis=1)
    peak = float(data_range[1] - data_range[0])
    psnr = 10.0 * np.log10(peak**2 / np.maximum(per_example, 1e-12))
    result = {"mse": float(per_example.mean()), "psnr": float(psnr.mean())}
    if x.min() >= 0 and x.max() <= 1 and x_hat.min() >= 0 \
            and x_hat.max() <= 1:
        p = np.clip(x_hat, 1e-7, 1 - 1e-7)
        bce = -np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)
        result["bce"] = float(bce.mean())
    return result


def pca_reconstruction_mse(train_x, test_x, k):
    """Per-element MSE of reconstructing `test_x` from its top-`k` PCA code.

    The principal subspace is fitted on `train_x` (eigenvectors of the
    covariance, or a randomized basis for inputs wider than
    `pca.EXACT_MAX_FEATURES`); Baldi and Hornik (1989) show it is the
    optimum of a linear autoencoder with `k` code units under squared
    error.

    Returns:
        A float, comparable with `reconstruction_metrics(...)["mse"]`.
    """
    a = np.asarray(train_x, np.float64).reshape(len(train_x), -1)
    b = np.asarray(test_x, np.float64).reshape(len(test_x), -1)
    mean = a.mean(axis=0)
    basis = pca.basis(a - mean, k)
    projected = (b - mean) @ basis @ basis.T + mean
    return float(np.mean(np.square(b - projected)))


def negative_elbo(model, x, samples=1, batch_size=512, labels=None):
    """Per-example -ELBO in nats, with an analytic KL term.

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) (Kingma and
    Welling 2014, Eq. 10), the expectation estimated with `samples` draws.
    A conditional VAE needs `labels`: its bound is on log p(x|y).

    Returns:
        float64 array `(n,)`.
    """
    out = []
    for b, y in zip(inference.batches(x, batch_size),
                    inference.label_batches(labels, batch_size)):
        mean, log_var = model.encode_distribution(b, y)
        nll = sum(model.reconstruction_nll(
            b, model.decode_logits(model.decoder_input(
                model.sample_code(mean, log_var), y)))
            for _ in range(samples)) / samples
        out.append(keras.ops.convert_to_numpy(
            nll + losses.gaussian_kl(mean, log_var)))
    return np.concatenate(out).astype(np.float64)


def iwae_bound(model, x, k, samples_per_pass=4096, batch_size=64,
               labels=None):
    """Per-example importance-weighted bound log p_k(x), in nats.

    log p_k(x) = log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x)
    (Burda et al. 2016, Eq. 8). It is <= log p(x), equals the ELBO's
    estimate for k = 1 and grows with k (their Theorem 1); k = 5000 is
    their evaluation protocol. The k samples go through the decoder
    `samples_per_pass` examples-times-samples at a time, and the running
    log-sum-exp is kept in float64, so memory stays bounded for any k.
    The log weights are the model's own (`importance_log_weights`), the
    ones its IWAE training objective uses.

    Args:
        model: a VAE.
        x: model-space examples.
        k: importance samples per example.
        samples_per_pass: bound on decoder inputs per pass.
        batch_size: examples per pass (fewer when k is large).
        labels: the labels of a conditional VAE (its bound is on
            log p(x|y)); None otherwise.

    Returns:
        float64 array `(n,)`.
    """
    batch_size = max(1, min(batch_size, samples_per_pass))
    chunk = max(1, samples_per_pass // batch_size)
    out = []
    for b, y in zip(inference.batches(x, batch_size),
                    inference.label_batches(labels, batch_size)):
        n = int(b.shape[0])
        mean, log_var = model.encode_distribution(b, y)
        total = np.full(n, -np.inf)
        done = 0
        while done < k:
            s = min(chunk, k - done)
            log_px, log_pz, log_qz = model.importance_log_weights(
                b, mean, log_var, s, y)
            log_w = keras.ops.convert_to_numpy(log_px + log_pz - log_qz)
            total = np.logaddexp(total, _logsumexp(
                log_w.astype(np.float64), axis=0))
            done += s
        out.append(total - math.log(k))
    return np.concatenate(out)


def nll_estimate(model, x, k, binarize="none", labels=None):
    """The test NLL estimate -log p_k(x) with its standard error.

    Args:
        model: a VAE.
        x: the examples (binarized already when `binarize` says so).
        k: importance samples (Burda et al. 2016 report k = 5000).
        binarize: how the data was binarized (`kerasae.data.binarize`),
            so the report says which data the figure refers to.
        labels: the labels of a conditional VAE (-log p(x|y)).

    Returns:
        `iwae_nll_k{k}` (mean over examples, nats), `iwae_nll_stderr`
        (standard deviation over examples / sqrt(n)), `iwae_k`,
        `iwae_examples` and `iwae_data`.
    """
    nll = -iwae_bound(model, x, k, labels=labels)
    return {
        f"iwae_nll_k{k}": float(nll.mean()),
        "iwae_nll_stderr": float(nll.std(ddof=1) / math.sqrt(len(nll)))
        if len(nll) > 1 else float("nan"),
        "iwae_k": int(k),
        "iwae_examples": int(len(x)),
        "iwae_data": binarize_mod.describe(binarize),
    }


def _logsumexp(values, axis):
    top = np.max(values, axis=axis)
    return top + np.log(np.sum(np.exp(values - np.expand_dims(top, axis)),
                               axis=axis))


def active_units(model, x, threshold=0.01, batch_size=512, labels=None):
    """Number of active latent units of a VAE.

    Unit u is active when A_u = Cov_x(E_{q(z|x)}[z_u]) > `threshold`
    (Burda et al. 2016, Section 5.2, with threshold 0.01).

    Returns:
        `(count, variances)`: an int and the (latent_dim,) A_u values.
    """
    means = np.concatenate([
        keras.ops.convert_to_numpy(model.encode_distribution(b, y)[0])
        for b, y in zip(inference.batches(x, batch_size),
                        inference.label_batches(labels, batch_size))])
    variances = np.var(means.astype(np.float64), axis=0)
    return int(np.sum(variances > threshold)), variances


# ----------------------------------------------------------- a whole run
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
