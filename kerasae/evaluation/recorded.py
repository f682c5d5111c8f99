"""Recorded scoring: a step's score from every window that holds it.

A recorded log has all the windows around a step, not only the one that
ends at it (the live scoring of `kerasae.evaluation.series_scores`). The
recorded score of step t uses the reconstruction error *at* t, per
feature, averaged over every window that holds t (the overlap average
that TSB-AD, NeurIPS 2024, found worth up to +28% for autoencoders):

    E[t, f] = mean over windows w holding t of (x[t, f] - x_hat_w[t, f])^2
    W[t, f] = mean over windows w holding t of the mean over w's steps
              of (x[., f] - x_hat_w[., f])^2
    a[t] = mean over f of E[t, f] / s_f,   b[t] = mean over f of W[t, f] / u_f
    score[t] = (a[t] - mean a) / std a + (b[t] - mean b) / std b

in model space, where `s_f` and `u_f` are feature f's mean errors on the
held-out normal stretch (its normal spread: a noisy sensor's error does
not drown a quiet one's) and the means and standard deviations of a and b
are those of the same normal steps. The error at the step (a) localizes:
a one-step spike scores highest at its own step, not over the next
N - 1. The window term (b) is steady across a stretch whose every step
is a little off (an amplitude or frequency change, a noise burst), where
the error at single steps dips wherever the signal crosses its mean; on
`bench/series_detectors.py` the sum ranks steps better than either term
alone. `share[t, f]`, feature f's part of both terms, names the sensor a
multivariate anomaly is in.

`step_errors` is TensorFlow throughout: the windows of a chunk are
gathered from the series (`start + range(N)`), reconstructed, and their
squared errors overlap-added onto the steps (`tf.signal.overlap_and_add`
with a hop of one step), chunk after chunk inside one `tf.map_fn`, so a
1,000,000-step log is scored in bounded memory. Evaluation and the
exported `score_series` signature run this same function, so
`scores.csv` and the served scores agree.
"""

import numpy as np
import tensorflow as tf

# Windows reconstructed per pass; memory is chunk * window * features.
CHUNK = 1024


def reconstruct(model, x):
    """The deterministic model-space reconstruction of windows `x`."""
    return model.output_activation(model.decode_logits(
        model.decoder_input(model.encode(x), None)))


def windows_holding(steps, window):
    """int32 `(steps,)`: how many stride-1 windows hold each step."""
    t = tf.range(steps)
    last_start = steps - window
    return (tf.minimum(t, last_start) - tf.maximum(0, t - window + 1) + 1)


def step_errors(model, series, window, chunk=CHUNK):
    """Per-step, per-feature errors, averaged over the windows holding
    each step: at the step, and of the whole window.

    Args:
        model: a model with an encoder, taking windows `[n, N, features]`.
        series: float32 `[T, features]` in model space, T >= `window`.
        window: N, the model's window.
        chunk: windows per pass.

    Returns:
        float32 `[T, 2, features]`: `[:, 0]` is E[t, f] (the squared
        error at t), `[:, 1]` is W[t, f] (each holding window's mean
        squared error over its N steps, averaged).
    """
    series = tf.convert_to_tensor(series, tf.float32)
    steps = tf.shape(series)[0]
    features = tf.shape(series)[1]
    count = steps - window + 1  # stride-1 windows
    passes = (count + chunk - 1) // chunk
    offsets = tf.range(window)

    def one_pass(first):
        starts = first + tf.range(chunk)
        valid = tf.cast(starts < count, tf.float32)[:, None, None]
        x = tf.gather(series, tf.minimum(starts, count - 1)[:, None]
                      + offsets)
        error = tf.square(x - tf.cast(reconstruct(model, x), tf.float32))
        whole = tf.broadcast_to(tf.reduce_mean(error, axis=1, keepdims=True),
                                tf.shape(error))
        both = tf.concat([error, whole], axis=2) * valid
        # [2 features, chunk, N] frames one step apart -> [2 features,
        # chunk + N - 1]: each step's sum over the chunk's windows.
        return tf.signal.overlap_and_add(tf.transpose(both, [2, 0, 1]), 1)

    sums = tf.map_fn(one_pass, tf.range(passes) * chunk,
                     fn_output_signature=tf.float32, parallel_iterations=1)
    # [passes, 2 features, chunk + N - 1] -> chunks `chunk` steps apart.
    total = tf.signal.overlap_and_add(tf.transpose(sums, [1, 0, 2]), chunk)
    total = tf.transpose(total[:, :steps])
    holding = tf.cast(windows_holding(steps, window), tf.float32)
    return tf.reshape(total / holding[:, None], [steps, 2, features])


def scores_from_errors(errors, params):
    """`(score [T], share [T, features])` from `step_errors` (TF).

    score = (a - a_mean) / a_std + (b - b_mean) / b_std, with a the mean
    over features of E / s_f and b that of W / u_f; a feature's share is
    its part of the two sums.

    Args:
        errors: `[T, 2, features]` step errors.
        params: `fit` output.
    """
    constant = {k: tf.constant(np.asarray(v, np.float32))
                for k, v in params.items()}
    at_step = errors[:, 0] / constant["step_scale"]
    whole = errors[:, 1] / constant["window_scale"]
    features = tf.cast(tf.shape(at_step)[1], tf.float32)
    part = (at_step / constant["step_std"]
            + whole / constant["window_std"]) / features
    value = ((tf.reduce_mean(at_step, axis=1) - constant["step_mean"])
             / constant["step_std"]
             + (tf.reduce_mean(whole, axis=1) - constant["window_mean"])
             / constant["window_std"])
    share = part / tf.maximum(tf.reduce_sum(part, axis=1), 1e-30)[:, None]
    return value, share


class RecordedScorer:
    """`step_errors` of one model, traced once for series of any length.

    Call it with a model-space `(T, features)` array; it returns the
    numpy `(T, 2, features)` step errors.
    """

    def __init__(self, model, window, chunk=CHUNK):
        features = int(model.config.input_shape[-1])
        self.window = int(window)
        self._errors = tf.function(
            lambda s: step_errors(model, s, self.window, chunk),
            input_signature=[tf.TensorSpec([None, features], tf.float32)])

    def __call__(self, series):
        return self._errors(tf.constant(series, tf.float32)).numpy()


def fit(errors):
    """The recorded score's constants, from errors of normal steps.

    `step_scale` s_f and `window_scale` u_f are each feature's mean
    errors; the means and standard deviations standardize the two terms
    so that neither dominates by its units (as `reconstruction_and_code`
    does for the live score).
    """
    errors = np.asarray(errors, np.float64)

    def positive(values):
        return np.maximum(values, 1e-12 * max(np.max(values), 1e-30))

    step_scale = positive(errors[:, 0].mean(axis=0))
    window_scale = positive(errors[:, 1].mean(axis=0))
    a = (errors[:, 0] / step_scale).mean(axis=1)
    b = (errors[:, 1] / window_scale).mean(axis=1)
    return {"step_scale": step_scale.tolist(),
            "window_scale": window_scale.tolist(),
            "step_mean": float(a.mean()),
            "step_std": float(max(a.std(), 1e-12)),
            "window_mean": float(b.mean()),
            "window_std": float(max(b.std(), 1e-12))}


def unit_params(features):
    """Constants that leave the errors as they are (before `fit`)."""
    return {"step_scale": [1.0] * features, "window_scale": [1.0] * features,
            "step_mean": 0.0, "step_std": 1.0, "window_mean": 0.0,
            "window_std": 1.0}


def score(errors, params):
    """numpy `(score (T,), share (T, features))` of step errors."""
    value, share = scores_from_errors(tf.constant(errors, tf.float32),
                                      params)
    return value.numpy().astype(np.float64), share.numpy()
