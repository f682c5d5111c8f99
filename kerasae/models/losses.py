"""Per-example losses, each next to the paper and equation it comes from.

Every function returns one value per example (shape `(batch,)`), summed over
the elements of that example, so the caller can average over the *global*
batch with `tf.nn.compute_average_loss` under `tf.distribute`.
"""

import math

from keras import ops


def _flat_sum(values):
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)


def bernoulli_nll(x, logits):
    """Negative Bernoulli log-likelihood in nats, from logits.

    The cross-entropy -[x log p + (1 - x) log(1 - p)] with p = sigmoid(logits),
    for data in [0, 1] (Kingma and Welling 2014, Appendix C.1), written as
    softplus(l) - l x, which equals the usual stable form
    max(l, 0) - l x + log(1 + exp(-|l|)) in one fused op. Its gradient,
    sigmoid(l) - x for the logits and -l for the targets, is given
    directly: a training step then spends three elementwise passes on it
    instead of the dozen that differentiating the formula takes.

    Args:
        x: targets in [0, 1], shape (batch, ...).
        logits: decoder outputs before the sigmoid, same shape.

    Returns:
        Shape (batch,): nats per example, summed over elements.
    """
    return _bernoulli_nll(x, logits)


@ops.custom_gradient
def _bernoulli_nll(x, logits):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        upstream = ops.reshape(upstream, (-1,) + (1,) * (len(x.shape) - 1))
        return (-logits * upstream,
                (ops.sigmoid(logits) - x) * upstream)

    return _flat_sum(ops.softplus(logits) - logits * x), grad


def squared_error(x, reconstruction):
    """Sum of squared errors per example, ||x - x_hat||^2."""
    return _flat_sum(ops.square(x - reconstruction))


def gaussian_nll(x, mean):
    """Negative Gaussian log-likelihood with unit variance, in nats.

    -log N(x; mean, I) = 0.5 ||x - mean||^2 + 0.5 D log(2 pi): the Gaussian
    decoder of Kingma and Welling (2014), Appendix C.2, with its variance
    fixed at 1 (the data is standardized).

    Returns:
        Shape (batch,).
    """
    size = ops.cast(ops.prod(ops.shape(x)[1:]), x.dtype)
    return 0.5 * squared_error(x, mean) + 0.5 * size * math.log(2 * math.pi)


def gaussian_kl(mean, log_var):
    """Analytic KL(N(mean, exp(log_var)) || N(0, I)) per example.

    Kingma and Welling (2014), Appendix B:
    -0.5 * sum(1 + log_var - mean^2 - exp(log_var)).

    Returns:
        Shape (batch,), in nats.
    """
    return -0.5 * ops.sum(
        1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1
    )


def sparsity_kl(rho, rho_hat):
    """Sum over code units of KL(rho || rho_hat_j) between Bernoullis.

    The sparsity penalty of Ng, "Sparse autoencoder" (CS294A notes, 2011),
    Section 2.2: sum_j rho log(rho / rho_hat_j) + (1 - rho)
    log((1 - rho) / (1 - rho_hat_j)). It is 0 exactly when every rho_hat_j
    equals rho.

    Args:
        rho: target mean activation, a float in (0, 1).
        rho_hat: mean activation of each unit over the batch, shape (units,).

    Returns:
        A scalar.
    """
    # Keeps the logs finite when a unit saturates at 0 or 1.
    rho_hat = ops.clip(rho_hat, 1e-7, 1.0 - 1e-7)
    return ops.sum(
        rho * ops.log(rho / rho_hat)
        + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
    )
