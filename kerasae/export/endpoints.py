"""The exported graphs: named endpoints shared by SavedModel and TFLite.

`endpoints(model, preprocessing)` returns the functions `kerasae.export`
puts in the SavedModel and `kerasae.export.tflite` converts, each with a fixed
input signature and named outputs:

- `serving_default`: raw `x` -> `reconstruction` in raw units.
- `encode`: raw `x` -> `code` (the VAE adds `mean` and `log_var`; its
  `code` is the mean: sampling never enters an exported graph).
- `decode`: `code` -> `reconstruction` in raw units.
- `score`: raw `x` -> per-example anomaly `score` (`anomaly_score`), plus
  `is_anomaly` when a threshold is given. The score is the one named by
  the threshold record (`RUN/threshold.json`, by default
  `reconstruction_and_code`) with its fitted parameters as constants, or
  `kerasae.evaluation.anomaly.unfitted_default` without one.
- `score_series` (series models): a raw series `x` `[T, features]`,
  any T >= the window N -> the recorded `score` of every step `[T]`
  (`kerasae.evaluation.recorded`: every window holding the step, the
  error at it per feature), `feature_share` `[T, features]`, and
  `is_anomaly` with the recorded threshold: a server scores a whole log
  in one call, with the numbers of `scores.csv`.
- `sample` (generative models): scalars `count`, `seed` -> `samples`.
- `classify` (models with a categorical code, `can_classify`): raw `x`
  -> `probabilities` q(y|x) over the classes (or clusters) and the most
  probable `class`; their `encode` also gives the two codes apart,
  `class_probabilities` and `style`, beside `code`, their concatenation.

A model without an encoder (the GAN) has `decode` and `sample` only; the
supervised adversarial autoencoder and the conditional VAE add an int
`label` input wherever their decoder needs one, and the conditional VAE
also to `encode` (its encoder is q(z|x, y)); their `sample` takes one
label per sample instead of a count. The training preprocessing
(`x_model = (x_raw - offset) / scale`) is part of every graph, so clients
send raw values and get raw values back; codes and scores are in model
space.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasae.evaluation import anomaly
from kerasae.evaluation import recorded


def score_name(model):
    """The score `anomaly_score` computes for `model` without a threshold.

    `neg_elbo_at_mean` for a VAE, `reconstruction_nll` otherwise
    (`kerasae.evaluation.anomaly.unfitted_default`).
    """
    return anomaly.unfitted_default(model)


def anomaly_score(model, x, labels=None, score=None, params=None):
    """Deterministic per-example anomaly score of model-space `x`, float32.

    `score=None` is `score_name(model)`: the reconstruction loss the model
    trains on (`reconstruction_nll`: Bernoulli NLL in nats for `bce`, sum
    of squared errors for `mse`) of decode(encode(x)); for the VAE the
    negative ELBO at z = mean, `reconstruction_nll(x, decode(mean)) +
    KL(q(z|x) || N(0, I))` (Kingma and Welling 2014, Eq. 10 with the single
    sample replaced by the mean). Any other score of
    `kerasae.evaluation.anomaly` is computed by
    `kerasae.evaluation.anomaly.score_batch`, the function the
    evaluation uses, so the two agree; `params` (from
    `kerasae.evaluation.anomaly.fit`)
    become graph constants when traced.

    Args:
        model: a `kerasae` model with an encoder.
        x: float32 batch in model space.
        labels: int labels, for models that decode (code, label).
        score: a concrete score name of `kerasae.evaluation.anomaly.SCORES`, or
        None. params: fitted parameters, for
        `kerasae.evaluation.anomaly.FITTED`
        scores.

    Returns:
        Shape `(batch,)`, float32, higher is more anomalous.
    """
    if score is None:
        score = score_name(model)
    if score not in anomaly.SCORES or score == "auto":
        raise ValueError(f"score must be a concrete name of "
                         f"kerasae.evaluation.anomaly.SCORES, not {score!r}")
    return tf.cast(anomaly.score_batch(model, x, score, labels, params),
                   tf.float32)


class _SeedStream(keras.random.SeedGenerator):
    """Feeds `keras.random` from a seed tensor: stateless, a stream per draw.

    A real `SeedGenerator` keeps its state in a variable, so it cannot take
    the seed a client sends; this one derives every draw from it instead.
    """

    def __init__(self, seed):  # no variable: deliberately skips the base
        self.seed, self.draws = seed, 0

    def next(self, ordered=True):
        self.draws += 1
        return tf.stack([self.seed, tf.constant(self.draws, tf.int32)])


def endpoints(model, preprocessing, threshold=None, score=None,
              params=None, series=None):
    """The exported functions of `model` with their input signatures.

    Args:
        model: a trained `kerasae` model.
        preprocessing: its `kerasae.data.Preprocessing`.
        threshold: anomaly threshold on `score`, or None.
        score: the score the `score` endpoint computes (a concrete name of
            `kerasae.evaluation.anomaly.SCORES`); None: `score_name(model)`.
        params: fitted parameters of `score` (`kerasae.evaluation.anomaly.fit`).
        series: for a series model, `{"window", "params", "threshold"}`
            of the recorded scoring (`kerasae.evaluation.recorded.fit`;
            before evaluation none: unit constants, no `is_anomaly`);
            adds `score_series`.

    Returns:
        Dict `name -> (fn, [tf.TensorSpec, ...])` in export order; each fn
        takes the named inputs and returns a dict of named outputs.
    """
    # `score` is also the name of the endpoint function below.
    score_kind = score or score_name(model)
    scale = np.asarray(preprocessing.scale, np.float32)
    offset = np.asarray(preprocessing.offset, np.float32)
    # Multiply-add rather than subtract-divide: both quantize in TFLite.
    to_model = recorded.raw_to_model(preprocessing)

    def to_raw(y):
        return y * scale + offset

    x = tf.TensorSpec((None,) + tuple(model.config.input_shape), tf.float32,
                      name="x")
    # A VQ-VAE's code is codebook indices (`code_dtype` int32).
    code = tf.TensorSpec((None, model.latent_dim),
                         getattr(model, "code_dtype", "float32"), name="code")
    # The supervised adversarial autoencoder decodes (code, label).
    label = [tf.TensorSpec((None,), tf.int32, name="label")] \
        if model.uses_labels else []
    # The conditional VAE also encodes (x, label).
    encoder_label = label if model.encoder_uses_labels else []
    seed = tf.TensorSpec((), tf.int32, name="seed")
    count = tf.TensorSpec((), tf.int32, name="count")

    def decoded(z, labels=None):
        if labels is None:
            return to_raw(model.decode(z))
        return to_raw(model.decode(z, labels=labels))

    def reconstruct(x, label=None):
        return {"reconstruction": decoded(
            model.encode(to_model(x), labels=label), label)}

    def encode(x, label=None):
        if model.can_classify:
            # Both codes of a categorical aae, and the code they make.
            code = model.encode(to_model(x))
            probabilities, style = model.split(code)
            return {"code": code, "class_probabilities": probabilities,
                    "style": style}
        if model.is_variational:
            mean, log_var = model.encode_distribution(to_model(x), label)
            return {"code": tf.identity(mean), "mean": mean,
                    "log_var": log_var}
        return {"code": model.encode(to_model(x), labels=label)}

    def score(x, label=None):
        value = anomaly_score(model, to_model(x), label, score_kind, params)
        if threshold is None:
            return {"score": value}
        return {"score": value, "is_anomaly": value > threshold}

    def decode(code, label=None):
        return {"reconstruction": decoded(code, label)}

    def score_series(x):
        window = int(series["window"])
        tf.debugging.assert_greater_equal(
            tf.shape(x)[0], window,
            message=f"score_series needs at least {window} steps")
        constants = series.get("params") or recorded.unit_params(
            int(model.config.input_shape[-1]))
        errors = recorded.step_errors(model, to_model(x), window,
                                      constants.get("code_gaussian"))
        value, share = recorded.scores_from_errors(errors, constants)
        out = {"score": value, "feature_share": share}
        if series.get("threshold") is not None:
            out["is_anomaly"] = value > series["threshold"]
        return out

    def classify(x):
        probabilities = model.classify(to_model(x))
        return {"probabilities": probabilities,
                "class": tf.argmax(probabilities, axis=-1,
                                   output_type=tf.int32)}

    def prior_samples(n, labels, seed):
        if model.uses_prior:
            z = model.sample_prior(n, labels=labels, seed=_SeedStream(seed))
        else:
            z = tf.random.stateless_normal(
                tf.stack([n, model.latent_dim]), seed=tf.stack([seed, 0]))
        return {"samples": decoded(z, labels)}

    def sample(count, seed):
        return prior_samples(count, None, seed)

    def sample_labelled(label, seed):
        return prior_samples(tf.shape(label)[0], label, seed)

    found = {}
    if model.has_encoder:
        found["serving_default"] = (reconstruct, [x] + label)
        found["encode"] = (encode, [x] + encoder_label)
        found["score"] = (score, [x] + label)
        if series is not None:
            found["score_series"] = (score_series, [tf.TensorSpec(
                (None, model.config.input_shape[-1]), tf.float32,
                name="x")])
    if model.can_classify:
        found["classify"] = (classify, [x])
    if model.is_generative:
        # Labelled models draw one sample per requested label.
        found["sample"] = (sample_labelled, label + [seed]) if label \
            else (sample, [count, seed])
    found["decode"] = (decode, [code] + label)
    return found


def build_archive(model, preprocessing, threshold=None, names=None,
                  score=None, params=None, series=None):
    """A `keras.export.ExportArchive` holding `endpoints` (or `names`).

    ExportArchive also registers the first endpoint as `serving_default`
    when there is none: `sample` for a model without an encoder.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    found = endpoints(model, preprocessing, threshold, score, params,
                      series)
    for name, (fn, spec) in found.items():
        if names is None or name in names:
            archive.add_endpoint(name, fn, input_signature=spec)
    return archive
