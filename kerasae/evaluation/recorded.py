"""Recorded scoring: a step's score from every window that holds it.

A recorded log has all the windows around a step, not only the one that
ends at it (the live scoring of `kerasae.evaluation.series_scores`). The
recorded score of step t uses the reconstruction error *at* t, per
feature, averaged over every window that holds t (the overlap average
that TSB-AD, NeurIPS 2024, found worth up to +28% for autoencoders):

    E[t, f] = mean over windows w holding t of (x[t, f] - x_hat_w[t, f])^2
    W[t, f] = mean over windows w holding t of the mean over w's steps
              of (x[., f] - x_hat_w[., f])^2
    C[t]    = mean over windows w holding t of the squared Mahalanobis
              distance of w's code to the training codes' Gaussian
    a[t] = mean over f of E[t, f] / s_f,   b[t] = mean over f of W[t, f] / u_f
    score[t] = z(a[t]) + z(b[t]) + z(C[t])

in model space, where `s_f` and `u_f` are feature f's mean errors on the
held-out normal stretch (its normal spread: a noisy sensor's error does
not drown a quiet one's) and z standardizes each term with its mean and
standard deviation on the same normal steps. The error at the step (a)
localizes: a one-step spike scores highest at its own step, not over the
next N - 1. The window term (b) is steady across a stretch whose every
step is a little off (an amplitude or frequency change, a noise burst),
where the error at single steps dips wherever the signal crosses its
mean. The code term (C, the live score's `code_mahalanobis`) catches
windows that reconstruct well but code unusually (a level shift, a
distorted beat). `bench/series_scoring_ablation.py` measured each choice.
`share[t, f]`, feature f's part of the two error terms, names the sensor
a multivariate anomaly is in. A model whose code is not a float vector
(the VQ-VAE's indices) has no code term.

`step_errors` is TensorFlow throughout: the windows of a chunk are
gathered from the series (`start + range(N)`), encoded and decoded, and
their errors overlap-added onto the steps (`tf.signal.overlap_and_add`
with a hop of one step), chunk after chunk inside one `tf.map_fn`, so a
1,000,000-step log is scored in bounded memory. Evaluation and the
exported `score_series` signature run this same function, so
`scores.csv` and the served scores agree.
"""

import numpy as np
import tensorflow as tf

# Windows reconstructed per pass; memory is chunk * window * features.
CHUNK = 1024


def has_code_term(model):
    """Whether `model`'s code is a float vector (a Gaussian fits it)."""
    return getattr(model, "code_dtype", "float32") == "float32"


def windows_holding(steps, window):
    """int32 `(steps,)`: how many stride-1 windows hold each step."""
    t = tf.range(steps)
    last_start = steps - window
    return (tf.minimum(t, last_start) - tf.maximum(0, t - window + 1) + 1)


def step_errors(model, series, window, code=None, chunk=CHUNK):
    """Per-step errors and code distances, averaged over the windows
    holding each step.

    Args:
        model: a model with an encoder, taking windows `[n, N, features]`.
        series: float32 `[T, features]` in model space, T >= `window`.
        window: N, the model's window.
        code: `{"code_mean", "code_precision"}` of the training codes'
            Gaussian, or None (no code term: C is 0).
        chunk: windows per pass.

    Returns:
        float32 `[T, 2 features + 1]`: E[t, f], then W[t, f], then C[t].
    """
    series = tf.convert_to_tensor(series, tf.float32)
    steps = tf.shape(series)[0]
    count = steps - window + 1  # stride-1 windows
    passes = (count + chunk - 1) // chunk
    offsets = tf.range(window)
    if code is not None:
        mean = tf.constant(np.asarray(code["code_mean"], np.float32))
        precision = tf.constant(np.asarray(code["code_precision"],
                                           np.float32))

    def one_pass(first):
        starts = first + tf.range(chunk)
        valid = tf.cast(starts < count, tf.float32)[:, None, None]
        x = tf.gather(series, tf.minimum(starts, count - 1)[:, None]
                      + offsets)
        z = model.encode(x)
        rebuilt = model.output_activation(model.decode_logits(
            model.decoder_input(z, None)))
        error = tf.square(x - tf.cast(rebuilt, tf.float32))
        shape = tf.shape(error)
        whole = tf.broadcast_to(tf.reduce_mean(error, axis=1, keepdims=True),
                                shape)
        if code is None:
            distance = tf.zeros([chunk])
        else:
            centred = tf.cast(z, tf.float32) - mean
            distance = tf.reduce_sum(
                tf.matmul(centred, precision) * centred, axis=1)
        distance = tf.broadcast_to(distance[:, None, None],
                                   [shape[0], shape[1], 1])
        both = tf.concat([error, whole, distance], axis=2) * valid
        # [channels, chunk, N] frames one step apart -> [channels,
        # chunk + N - 1]: each step's sum over the chunk's windows.
        return tf.signal.overlap_and_add(tf.transpose(both, [2, 0, 1]), 1)

    sums = tf.map_fn(one_pass, tf.range(passes) * chunk,
                     fn_output_signature=tf.float32, parallel_iterations=1)
    # [passes, channels, chunk + N - 1] -> chunks `chunk` steps apart.
    total = tf.signal.overlap_and_add(tf.transpose(sums, [1, 0, 2]), chunk)
    total = tf.transpose(total[:, :steps])
    holding = tf.cast(windows_holding(steps, window), tf.float32)
    return total / holding[:, None]


def _terms(errors, params):
    """`(a, b, c, per-feature parts of a and b)` of `[T, 2F + 1]` errors."""
    scale = tf.constant(np.asarray(params["step_scale"], np.float32))
    width = tf.shape(scale)[0]
    at_step = errors[:, :width] / scale
    whole = errors[:, width:2 * width] / tf.constant(
        np.asarray(params["window_scale"], np.float32))
    return (tf.reduce_mean(at_step, axis=1), tf.reduce_mean(whole, axis=1),
            errors[:, 2 * width], at_step, whole)


def scores_from_errors(errors, params):
    """`(score [T], share [T, features])` from `step_errors` (TF).

    score = z(a) + z(b) + z(C) with the constants of `params`
    (`fit`); a feature's share is its part of the two error terms.
    """
    a, b, c, at_step, whole = _terms(errors, params)
    value = ((a - params["step_mean"]) / params["step_std"]
             + (b - params["window_mean"]) / params["window_std"])
    if "code_std" in params:
        value += (c - params["code_mean"]) / params["code_std"]
    part = at_step / params["step_std"] + whole / params["window_std"]
    share = part / tf.maximum(tf.reduce_sum(part, axis=1), 1e-30)[:, None]
    return value, share


def raw_to_model(preprocessing):
    """`x -> x * (1 / scale) - offset / scale` in float32, the arithmetic
    of the exported graphs (`kerasae.export.endpoints`), so that raw
    series scored here and by the `score_series` signature agree."""
    scale = np.asarray(preprocessing.scale, np.float32)
    offset = np.asarray(preprocessing.offset, np.float32)
    inverse, shift = 1.0 / scale, -offset / scale
    return lambda x: x * inverse + shift


class RecordedScorer:
    """`step_errors` of one model, traced once for series of any length.

    Call it with a `(T, features)` array, raw when `preprocessing` is
    given (standardized inside, as the exported graphs do), else in model
    space; it returns the numpy `(T, 2 features + 1)` step errors.
    """

    def __init__(self, model, window, code=None, preprocessing=None,
                 chunk=CHUNK):
        features = int(model.config.input_shape[-1])
        self.window = int(window)
        to_model = (lambda x: x) if preprocessing is None else \
            raw_to_model(preprocessing)
        self._errors = tf.function(
            lambda s: step_errors(model, to_model(s), self.window, code,
                                  chunk),
            input_signature=[tf.TensorSpec([None, features], tf.float32)])

    def __call__(self, series):
        return self._errors(tf.constant(series, tf.float32)).numpy()


def fit(errors, code=None):
    """The recorded score's constants, from errors of normal steps.

    `step_scale` s_f and `window_scale` u_f are each feature's mean
    errors; the means and standard deviations standardize the terms so
    that none dominates by its units (as `reconstruction_and_code` does
    for the live score). `code`: the Gaussian the code term measures
    from (kept in the constants, for the exported signature), or None.
    """
    errors = np.asarray(errors, np.float64)
    width = (errors.shape[1] - 1) // 2

    def positive(values):
        return np.maximum(values, 1e-12 * max(np.max(values), 1e-30))

    params = {"step_scale": positive(errors[:, :width].mean(0)).tolist(),
              "window_scale": positive(
                  errors[:, width:2 * width].mean(0)).tolist()}
    a, b, c, _, _ = (np.asarray(t, np.float64) for t in _terms(
        tf.constant(errors, tf.float32), params))
    params.update(step_mean=float(a.mean()),
                  step_std=float(max(a.std(), 1e-12)),
                  window_mean=float(b.mean()),
                  window_std=float(max(b.std(), 1e-12)))
    if code is not None:
        params.update(code_mean=float(c.mean()),
                      code_std=float(max(c.std(), 1e-12)),
                      code_gaussian={k: np.asarray(v).tolist()
                                     for k, v in code.items()})
    return params


def unit_params(features):
    """Constants that leave the error terms as they are (before `fit`)."""
    return {"step_scale": [1.0] * features, "window_scale": [1.0] * features,
            "step_mean": 0.0, "step_std": 1.0, "window_mean": 0.0,
            "window_std": 1.0}


def score(errors, params):
    """numpy `(score (T,), share (T, features))` of step errors."""
    value, share = scores_from_errors(tf.constant(errors, tf.float32),
                                      params)
    return value.numpy().astype(np.float64), share.numpy()
