"""Anomaly detection with a trained autoencoder: scores, thresholds, metrics.

A model gives every example a score (higher: more anomalous); a threshold
calibrated on *normal* validation data turns scores into decisions, and is
stored with the model in `RUN/threshold.json` so that the exported `score`
signature (`kerasae.export`) can return `is_anomaly` too. With labels, the
scores are judged by AUROC, AUPRC and precision / recall / F1 at the
threshold. Everything here is numpy (no scikit-learn).

Scores (`SCORES`):

- `reconstruction_nll`: the reconstruction loss the model trains on, of the
  deterministic reconstruction decode(encode(x)): Bernoulli NLL in nats for
  `bce` models, the sum of squared errors for `mse` models.
- `neg_elbo_at_mean` (VAE): that NLL at z = E_q[z] plus KL(q(z|x) || p(z)),
  the negative ELBO (Kingma and Welling 2014, Eq. 10) with the mean in
  place of a sample, so a score never changes from call to call.
- `squared_error`: ||x - decode(encode(x))||^2, whatever the training loss.
- `bernoulli_kl` (data in [0, 1]): sum_i KL(Bern(x_i) || Bern(x_hat_i)),
  the Bernoulli NLL minus the entropy of x itself. That entropy depends on
  the input only (grey edge pixels), not on the model, and makes inputs
  with much ink look anomalous; Serra et al. (2020) show how such input
  complexity misleads likelihood scores.

`auto` is `neg_elbo_at_mean` for a VAE and `reconstruction_nll` otherwise:
the two scores the exported `score` signature computes.
"""

import math

import keras
import numpy as np
from keras import ops

from kerasae import losses
from kerasae import workdir as wd
from kerasae.errors import ConfigError, DataError

SCORES = ("auto", "reconstruction_nll", "neg_elbo_at_mean", "squared_error",
          "bernoulli_kl")
METHODS = ("quantile", "mean_std")
THRESHOLD = "threshold.json"


def resolve_score(model, score="auto"):
    """The concrete score name for `model` (`auto` resolved).

    Raises:
        ConfigError: unknown score, or `neg_elbo_at_mean` for a non-VAE.
    """
    if score not in SCORES:
        raise ConfigError(
            f"--score={score!r} is not one of: {', '.join(SCORES)}")
    is_vae = hasattr(model, "encode_distribution")
    if score == "auto":
        return "neg_elbo_at_mean" if is_vae else "reconstruction_nll"
    if score == "neg_elbo_at_mean" and not is_vae:
        raise ConfigError(
            f"--score=neg_elbo_at_mean needs a vae, but the model is "
            f"{model.config.name!r}; use reconstruction_nll")
    if score == "bernoulli_kl" and \
            model.config.output_activation != "sigmoid":
        raise ConfigError(
            "--score=bernoulli_kl needs a sigmoid output (data in [0, 1]); "
            "use squared_error")
    return score


def score_batch(model, x, score, labels=None):
    """Per-example scores of one model-space batch (a concrete `score`).

    `labels` go to the decoder of models that decode (code, label).
    """
    if score == "neg_elbo_at_mean":
        mean, log_var = model.encode_distribution(x)
        return (model.reconstruction_nll(x, model.decode_logits(mean))
                + losses.gaussian_kl(mean, log_var))
    raw = model.decode_logits(
        model.decoder_input(model.encode(x), labels))
    if score == "squared_error":
        return losses.squared_error(x, model.output_activation(raw))
    if score == "bernoulli_kl":
        return losses.bernoulli_nll(x, raw) - bernoulli_entropy(x)
    return model.reconstruction_nll(x, raw)


def bernoulli_entropy(x):
    """Per-example sum of -[x log x + (1 - x) log(1 - x)], with 0 log 0 = 0.
    """
    x = ops.clip(x, 0.0, 1.0)
    tiny = 1e-12
    h = -(x * ops.log(ops.maximum(x, tiny))
          + (1 - x) * ops.log(ops.maximum(1 - x, tiny)))
    return ops.sum(ops.reshape(h, (ops.shape(x)[0], -1)), axis=1)


def scores(model, x, score="auto", labels=None, batch_size=512):
    """Anomaly scores of every example of `x` (model space).

    Args:
        model: a trained `kerasae` model with an encoder.
        x: float32 array `(n, *input_shape)`.
        score: one of `SCORES`.
        labels: int labels, for models that decode (code, label).
        batch_size: examples per forward pass.

    Returns:
        float64 array `(n,)`; higher is more anomalous.
    """
    score = resolve_score(model, score)
    out = [keras.ops.convert_to_numpy(score_batch(
        model, ops.convert_to_tensor(x[i:i + batch_size]), score,
        None if labels is None else ops.convert_to_tensor(
            labels[i:i + batch_size])))
        for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)


def calibrate(normal_scores, method="quantile", quantile=0.99, k=3.0):
    """A threshold from scores of normal (validation) examples.

    Args:
        normal_scores: scores of examples known to be normal.
        method: `quantile` (the `quantile` of the scores: about 1 - q of
            normal data is flagged) or `mean_std` (mean + k standard
            deviations).
        quantile: in (0, 1), for `quantile`.
        k: number of standard deviations, for `mean_std`.

    Returns:
        The threshold: scores strictly above it are anomalies.

    Raises:
        ConfigError: unknown method or a quantile outside (0, 1).
    """
    s = np.asarray(normal_scores, dtype=np.float64)
    if method not in METHODS:
        raise ConfigError(
            f"--threshold_method={method!r} is not one of: "
            f"{', '.join(METHODS)}")
    if len(s) == 0:
        raise DataError("no normal validation examples to calibrate on")
    if method == "quantile":
        if not 0 < quantile < 1:
            raise ConfigError(
                f"--quantile={quantile}: must lie strictly between 0 and 1")
        return float(np.quantile(s, quantile))
    return float(np.mean(s) + k * np.std(s))


def anomaly_labels(y, normal_classes):
    """1 for examples whose label is not in `normal_classes`, else 0.

    Raises:
        DataError: there are no labels.
    """
    if y is None:
        raise DataError(
            "--normal_classes needs labels, but the evaluation data has "
            "none; drop --normal_classes to score without labels")
    return (~np.isin(y, np.asarray(normal_classes))).astype(np.int64)


def _ranks(values):
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(
        np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + end + 1)
    return ranks


def auroc(labels, scores_):
    """Area under the ROC curve; ties count one half.

    The Mann-Whitney statistic U / (n_pos n_neg) (Hanley and McNeil 1982):
    the probability that a random anomaly scores above a random normal
    example.

    Args:
        labels: 1 for anomalies, 0 for normal examples.
        scores_: higher is more anomalous.

    Returns:
        A float in [0, 1], or nan when one class is absent.
    """
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(np.asarray(scores_, dtype=np.float64))
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auprc(labels, scores_):
    """Area under the precision-recall curve, as average precision.

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds taken
    from high to low (the step-wise estimate of Manning et al. 2008,
    Section 8.4; tied scores enter together).

    Returns:
        A float in [0, 1], or nan when there are no anomalies.
    """
    y = np.asarray(labels).astype(np.float64)
    s = np.asarray(scores_, dtype=np.float64)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    true_pos = np.cumsum(y)[last]
    precision = true_pos / (last + 1)
    recall = true_pos / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(labels, predicted):
    """Precision, recall and F1 of 0/1 predictions (1: anomaly).

    Returns:
        `{"precision", "recall", "f1"}`; an empty denominator gives 0.
    """
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predicted).astype(bool)
    tp = float(np.sum(y & p))
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}


def report(test_scores, threshold, labels=None):
    """Metrics of test scores against a threshold (and labels, if any)."""
    flagged = np.asarray(test_scores) > threshold
    result = {"threshold": float(threshold),
              "flagged_fraction": float(flagged.mean())}
    if labels is not None:
        result.update(auroc=auroc(labels, test_scores),
                      auprc=auprc(labels, test_scores),
                      anomaly_fraction=float(np.mean(labels)),
                      **precision_recall_f1(labels, flagged))
    return {k: v for k, v in result.items()
            if not (isinstance(v, float) and math.isnan(v))}


def detect(model, bundle, options, workdir, normal_classes=()):
    """Scores, a calibrated threshold (written to `threshold.json`), report.

    The threshold comes from the validation split (only its examples of
    `normal_classes`, when given); the report is on the test split, whose
    examples outside `normal_classes` count as anomalies.

    Args:
        model: a trained model with an encoder.
        bundle: the run's `DataBundle`.
        options: an `evaluation.EvalOptions` (score and threshold fields).
        workdir: where `threshold.json` goes.
        normal_classes: labels that are normal; () for no labels.

    Returns:
        `(report, test_scores, test_anomaly_labels_or_None)`.
    """
    score = resolve_score(model, options.score)
    validation, test = bundle.validation, bundle.eval_split
    labels = None
    if normal_classes:
        labels = anomaly_labels(test.y, normal_classes)
        validation = validation.take(np.isin(validation.y, normal_classes))
    normal = scores(model, validation.x, score, validation.y,
                            options.batch_size)
    threshold = calibrate(
        normal, options.threshold_method, options.quantile,
        options.std_multiplier)
    detail = ({"quantile": options.quantile}
              if options.threshold_method == "quantile"
              else {"std_multiplier": options.std_multiplier})
    write_threshold(
        workdir, score, threshold, options.threshold_method,
        normal_classes=[int(c) for c in normal_classes],
        calibration_examples=int(len(normal)),
        calibration_mean=float(normal.mean()),
        calibration_std=float(normal.std()), **detail)
    test_scores = scores(model, test.x, score, test.y,
                                 options.batch_size)
    result = {"score": score, "method": options.threshold_method,
              "normal_classes": [int(c) for c in normal_classes],
              **report(test_scores, threshold, labels)}
    return result, test_scores, labels


def write_threshold(workdir, score, threshold, method, **details):
    """Writes `RUN/threshold.json` = {"score", "threshold", "method", ...}.

    The exported `score` signature reads `threshold` and checks `score`
    against the score it computes.
    """
    value = {"score": score, "threshold": float(threshold),
             "method": method, **details}
    wd.write_json(workdir, THRESHOLD, value)
    return value


def read_threshold(workdir):
    """The stored threshold record, or None."""
    return wd.read_json(workdir, THRESHOLD)
