"""Recorded scoring: a step's score from every window that holds it.

A recorded log has all the windows around a step, not only the one that
ends at it (the live scoring of `kerasae.evaluation.series_scores`). The
recorded score of step t uses the reconstruction error *at* t, per
feature, averaged over every window that holds t (the overlap average
that TSB-AD, NeurIPS 2024, found worth up to +28% for autoencoders):

    E[t, f] = mean over windows w holding t of (x[t, f] - x_hat_w[t, f])^2
    score[t] = mean over features f of E[t, f] / s_f
    share[t, f] = (E[t, f] / s_f) / sum over f of E[t, f] / s_f

in model space, where `s_f` is feature f's mean step error on the
held-out normal stretch (its normal spread: a noisy sensor's error does
not drown a quiet one's). A one-step spike is a large error at one step,
so it scores highest at its own step, not over the next N - 1; `share`
names the sensor a multivariate anomaly is in.

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
    """Per-step, per-feature squared error, averaged over the windows.

    Args:
        model: a model with an encoder, taking windows `[n, N, features]`.
        series: float32 `[T, features]` in model space, T >= `window`.
        window: N, the model's window.
        chunk: windows per pass.

    Returns:
        float32 `[T, features]`: E[t, f] above.
    """
    series = tf.convert_to_tensor(series, tf.float32)
    steps = tf.shape(series)[0]
    count = steps - window + 1  # stride-1 windows
    passes = (count + chunk - 1) // chunk
    offsets = tf.range(window)

    def one_pass(first):
        starts = first + tf.range(chunk)
        valid = tf.cast(starts < count, tf.float32)[:, None, None]
        x = tf.gather(series, tf.minimum(starts, count - 1)[:, None]
                      + offsets)
        error = tf.square(x - tf.cast(reconstruct(model, x), tf.float32))
        # [features, chunk, N] frames one step apart -> [features,
        # chunk + N - 1]: each step's sum over the chunk's windows.
        return tf.signal.overlap_and_add(
            tf.transpose(error * valid, [2, 0, 1]), 1)

    sums = tf.map_fn(one_pass, tf.range(passes) * chunk,
                     fn_output_signature=tf.float32, parallel_iterations=1)
    # [passes, features, chunk + N - 1] -> chunks `chunk` steps apart.
    total = tf.signal.overlap_and_add(tf.transpose(sums, [1, 0, 2]), chunk)
    total = tf.transpose(total[:, :steps])
    holding = tf.cast(windows_holding(steps, window), tf.float32)
    return total / holding[:, None]


def scores_from_errors(errors, feature_scale):
    """`(score [T], share [T, features])` from `step_errors` (TF or numpy).

    Args:
        errors: `[T, features]` step errors.
        feature_scale: `s_f`, `[features]`, each feature's normal error.
    """
    scaled = errors / tf.constant(np.asarray(feature_scale, np.float32))
    total = tf.reduce_sum(scaled, axis=1)
    share = scaled / tf.maximum(total, 1e-30)[:, None]
    return total / tf.cast(tf.shape(scaled)[1], tf.float32), share


class RecordedScorer:
    """`step_errors` of one model, traced once for series of any length.

    Call it with a model-space `(T, features)` array; it returns the
    numpy `(T, features)` step errors.
    """

    def __init__(self, model, window, chunk=CHUNK):
        features = int(model.config.input_shape[-1])
        self.window = int(window)
        self._errors = tf.function(
            lambda s: step_errors(model, s, self.window, chunk),
            input_signature=[tf.TensorSpec([None, features], tf.float32)])

    def __call__(self, series):
        return self._errors(tf.constant(series, tf.float32)).numpy()


def fit_feature_scale(errors):
    """`s_f`: each feature's mean step error on normal steps (floored)."""
    scale = np.mean(np.asarray(errors, np.float64), axis=0)
    return np.maximum(scale, 1e-12 * max(scale.max(), 1e-30)).tolist()


def score(errors, feature_scale):
    """numpy `(score (T,), share (T, features))` of step errors."""
    value, share = scores_from_errors(
        tf.constant(errors, tf.float32), feature_scale)
    return value.numpy().astype(np.float64), share.numpy()
