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

- `code_mahalanobis`: the squared Mahalanobis distance of the code to a
  Gaussian fitted to the codes of the normal training data (Mahalanobis
  1936; Lee et al. 2018 use such Gaussians on learnt features for
  out-of-distribution detection): anomalies that reconstruct well (a thin
  "1" for a model of "7"s) still land in unusual parts of the code space.
- `reconstruction_and_code`: z(squared_error) + z(code_mahalanobis), each
  standardized with its mean and standard deviation on normal validation
  data, so that neither term dominates by its units.

`code_mahalanobis` and `reconstruction_and_code` need `fit` first; their
parameters are stored in `threshold.json` under `params`.

`auto` is `reconstruction_and_code` for every model with an encoder: on
one-class MNIST it averages 96.9 AUROC against 83.6 for the training loss
(docs/evaluation.md). The exported `score` signature computes whichever
score `threshold.json` names, with the fitted parameters baked in as
constants; both paths run `score_batch` (keras.ops), so the formula exists
once. Without a threshold the signature falls back to `unfitted_default`:
`neg_elbo_at_mean` for a VAE, `reconstruction_nll` otherwise.
"""

import math

import keras
import numpy as np
from keras import ops

from kerasae import workdir as wd
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.evaluation import inference
from kerasae.evaluation.detection_metrics import auprc
from kerasae.evaluation.detection_metrics import auroc
from kerasae.evaluation.detection_metrics import precision_recall_f1
from kerasae.models import losses

__all__ = ["auprc", "auroc", "precision_recall_f1"]  # re-exported

SCORES = ("auto", "reconstruction_nll", "neg_elbo_at_mean", "squared_error",
          "bernoulli_kl", "code_mahalanobis", "reconstruction_and_code")
# Scores with parameters fitted on normal data (`fit`).
FITTED = ("code_mahalanobis", "reconstruction_and_code")
# `auto`: `quantile` for examples; for series (see
# `kerasae.evaluation.series_scores`) the largest score of any normal
# window, held out or trained on.
METHODS = ("auto", "quantile", "mean_std", "max")
THRESHOLD = wd.THRESHOLD


def resolve_score(model, score="auto"):
    """The concrete score name for `model` (`auto` resolved).

    Raises:
        ConfigError: unknown score, or `neg_elbo_at_mean` for a non-VAE.
    """
    if score not in SCORES:
        raise ConfigError(
            f"--score={score!r} is not one of: {', '.join(SCORES)}")
    if score == "auto" and getattr(model, "default_anomaly_score", None):
        return model.default_anomaly_score  # the VQ-VAE's categorical code
    if score == "auto":
        # A model without an encoder (the GAN) scores nothing; it keeps the
        # name it always had.
        return "reconstruction_and_code" if model.has_encoder \
            else unfitted_default(model)
    if score == "neg_elbo_at_mean" and not model.is_variational:
        raise ConfigError(
            f"--score=neg_elbo_at_mean needs a vae, but the model is "
            f"{model.config.name!r}; use reconstruction_nll")
    if score == "bernoulli_kl" and \
            model.config.output_activation != "sigmoid":
        raise ConfigError(
            "--score=bernoulli_kl needs a sigmoid output (data in [0, 1]); "
            "use squared_error")
    return score


def unfitted_default(model):
    """The score of models scored without fitted parameters.

    `neg_elbo_at_mean` for a VAE, `reconstruction_nll` otherwise: what the
    exported `score` signature computes when there is no `threshold.json`.
    """
    if model.is_variational:
        return "neg_elbo_at_mean"
    return "reconstruction_nll"


def score_batch(model, x, score, labels=None, params=None):
    """Per-example scores of one model-space batch (a concrete `score`).

    Written with keras.ops only, so that it runs eagerly here and inside
    the exported `score` graph (`kerasae.export.endpoints`), where `params`
    become constants.

    Args:
        model: a model with an encoder.
        x: float32 batch in model space.
        score: a concrete score name (not `auto`).
        labels: labels of models that take them (`uses_labels`: the
            supervised aae decodes (code, label), the conditional vae also
            encodes (x, label)).
        params: `fit` output, for `FITTED` scores.

    Returns:
        Shape `(batch,)`: float32, or float64 for `FITTED` scores (their
        centring and standardization are done in float64).
    """
    if score in FITTED:
        return fitted_score_batch(model, x, score, labels, params)
    if score == "neg_elbo_at_mean":
        mean, log_var = model.encode_distribution(x, labels)
        return (model.reconstruction_nll(x, model.decode_logits(
            model.decoder_input(mean, labels)))
                + losses.gaussian_kl(mean, log_var))
    raw = model.decode_logits(
        model.decoder_input(model.encode(x, labels=labels), labels))
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


def mahalanobis(codes, mean, precision):
    """Squared distances (c - mean)^T precision (c - mean), per row.

    keras.ops in float64: numpy arrays or (graph) tensors in, a tensor out;
    `mean` and `precision` (lists or arrays) become float64 constants.
    """
    codes = ops.cast(ops.convert_to_tensor(codes), "float64")
    centered = codes - ops.convert_to_tensor(
        np.asarray(mean, np.float64), "float64")
    return ops.sum(ops.matmul(centered, ops.convert_to_tensor(
        np.asarray(precision, np.float64), "float64")) * centered, axis=1)


def check_params(score, params):
    """Raises ConfigError unless `params` hold what `score` needs."""
    needed = ["code_mean", "code_precision"]
    if score == "reconstruction_and_code":
        needed += ["squared_error_mean", "squared_error_std",
                   "mahalanobis_mean", "mahalanobis_std"]
    if not params:
        raise ConfigError(
            f"score {score!r} needs parameters fitted on normal data: call "
            "kerasae.evaluation.anomaly.fit first")
    missing = [k for k in needed if k not in params]
    if missing:
        raise ConfigError(
            f"the parameters of score {score!r} lack {', '.join(missing)}; "
            "fit them again with kerasae.evaluation.anomaly.fit")


def fitted_score_batch(model, x, score, labels=None, params=None):
    """A `FITTED` score of one model-space batch, in float64 (keras.ops).

    `code_mahalanobis`: `mahalanobis(encode(x))`; `reconstruction_and_code`:
    (squared_error - mean) / std + (mahalanobis - mean) / std with the
    constants of `params`.

    Raises:
        ConfigError: `params` are missing or incomplete.
    """
    check_params(score, params)
    code = model.encode(x, labels=labels)
    distance = mahalanobis(code, params["code_mean"],
                           params["code_precision"])
    if score == "code_mahalanobis":
        return distance
    error = ops.cast(losses.squared_error(x, model.output_activation(
        model.decode_logits(model.decoder_input(code, labels)))), "float64")
    return ((error - params["squared_error_mean"])
            / params["squared_error_std"]
            + (distance - params["mahalanobis_mean"])
            / params["mahalanobis_std"])


def fit(model, score, train_x, normal_x, batch_size=512,
        normal_labels=None, train_labels=None):
    """Fits the parameters of a `FITTED` score on normal data.

    Args:
        model: a trained model with an encoder.
        score: a score name; others than `FITTED` need nothing.
        train_x: normal training examples (the code Gaussian).
        normal_x: normal validation examples (the standardization).
        batch_size: examples per forward pass.
        normal_labels: labels of `normal_x`, for models that decode
            (code, label).
        train_labels: labels of `train_x`, for models that encode
            (x, label).

    Returns:
        A JSON-able dict (empty for scores without parameters).
    """
    score = resolve_score(model, score)
    if score not in FITTED:
        return {}
    codes = inference.encode(model, train_x, batch_size,
                             train_labels).astype(np.float64)
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    # A small ridge keeps the inverse finite when a unit is (nearly) dead.
    ridge = 1e-6 * max(np.trace(covariance) / len(covariance), 1e-12)
    precision = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))
    params = {"code_mean": codes.mean(axis=0).tolist(),
              "code_precision": precision.tolist()}
    if score == "reconstruction_and_code":
        error = scores(model, normal_x, "squared_error", normal_labels,
                       batch_size)
        distance = scores(model, normal_x, "code_mahalanobis",
                          normal_labels, batch_size=batch_size,
                          params=params)
        params.update(squared_error_mean=float(error.mean()),
                      squared_error_std=float(max(error.std(), 1e-12)),
                      mahalanobis_mean=float(distance.mean()),
                      mahalanobis_std=float(max(distance.std(), 1e-12)))
    return params


def scores(model, x, score="auto", labels=None, batch_size=512,
           params=None):
    """Anomaly scores of every example of `x` (model space).

    Args:
        model: a trained `kerasae` model with an encoder.
        x: float32 array `(n, *input_shape)`.
        score: one of `SCORES`.
        labels: int labels, for models that decode (code, label).
        batch_size: examples per forward pass.
        params: `fit` output, for `FITTED` scores.

    Returns:
        float64 array `(n,)`; higher is more anomalous.
    """
    score = resolve_score(model, score)
    if score in FITTED:
        check_params(score, params)
    out = [keras.ops.convert_to_numpy(score_batch(
        model, ops.convert_to_tensor(x[i:i + batch_size]), score,
        None if labels is None else ops.convert_to_tensor(
            labels[i:i + batch_size]), params))
        for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)


def calibrate(normal_scores, method="quantile", quantile=0.99, k=3.0):
    """A threshold from scores of normal (validation) examples.

    Args:
        normal_scores: scores of examples known to be normal.
        method: `quantile` (the `quantile` of the scores: about 1 - q of
            normal data is flagged), `mean_std` (mean + k standard
            deviations) or `max` (the largest normal score: every
            calibration example passes; for scores of overlapping series
            windows, whose neighbours are alike, a quantile of a few
            hundred of them is a noisy estimate).
        quantile: in (0, 1), for `quantile`.
        k: number of standard deviations, for `mean_std`.

    Returns:
        The threshold: scores strictly above it are anomalies.

    Raises:
        ConfigError: unknown method or a quantile outside (0, 1).
    """
    s = np.asarray(normal_scores, dtype=np.float64)
    if method not in METHODS or method == "auto":
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
    if method == "max":
        return float(np.max(s))
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
    method = "quantile" if options.threshold_method == "auto" else \
        options.threshold_method
    validation, test = bundle.validation, bundle.eval_split
    labels = None
    if normal_classes:
        labels = anomaly_labels(test.y, normal_classes)
        validation = validation.take(np.isin(validation.y, normal_classes))
    train = bundle.train
    if normal_classes and train.y is not None:
        train = train.take(np.isin(train.y, normal_classes))
    params = fit(model, score, train.x, validation.x, options.batch_size,
                 validation.y, train.y)
    normal = scores(model, validation.x, score, validation.y,
                    options.batch_size, params)
    threshold = calibrate(normal, method, options.quantile,
                          options.std_multiplier)
    detail = ({"quantile": options.quantile} if method == "quantile"
              else {"std_multiplier": options.std_multiplier})
    write_threshold(
        workdir, score, threshold, method,
        normal_classes=[int(c) for c in normal_classes],
        calibration_examples=int(len(normal)),
        calibration_mean=float(normal.mean()),
        calibration_std=float(normal.std()), **detail,
        **({"params": params} if params else {}))
    test_scores = scores(model, test.x, score, test.y, options.batch_size,
                         params)
    result = {"score": score, "method": method,
              "normal_classes": [int(c) for c in normal_classes],
              **report(test_scores, threshold, labels)}
    return result, test_scores, labels


def write_threshold(workdir, score, threshold, method, **details):
    """Writes `RUN/threshold.json` = {"score", "threshold", "method", ...}.

    The exported `score` signature computes the score `score` names (with
    `params`, when fitted) and returns `is_anomaly = score > threshold`.
    """
    value = {"score": score, "threshold": float(threshold),
             "method": method, **details}
    wd.write_json(workdir, THRESHOLD, value)
    return value
