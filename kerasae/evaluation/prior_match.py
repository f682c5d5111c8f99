"""Does the aggregated posterior q(z) match the prior p(z)? Two statistics.

- Maximum mean discrepancy (Gretton et al. 2012, "A Kernel Two-Sample
  Test", Eq. 5: the biased V-statistic MMD_b^2) with a Gaussian kernel
  k(a, b) = exp(-||a - b||^2 / (2 h^2)). The bandwidth h is the median
  distance between *prior* samples, so every model evaluated against the
  same prior is scored with the same kernel (a pooled median would widen
  the kernel for a model whose codes are far off, flattering it).
- The two-sample Kolmogorov-Smirnov statistic per dimension,
  D = sup_t |F_codes(t) - F_prior(t)| (numpy; no scipy), and its maximum.

Both work for any model with `encode`, so a plain autoencoder can be scored
against the prior an adversarial autoencoder was trained with.
"""

import keras
import numpy as np

from kerasae.evaluation import inference
from kerasae.models import priors


def mmd(a, b, bandwidth=None):
    """Biased squared MMD between samples `a` (n, d) and `b` (m, d).

    Args:
        a: first sample.
        b: second sample.
        bandwidth: Gaussian kernel width h; None: median distance within `b`.

    Returns:
        MMD_b^2 (Gretton et al. 2012, Eq. 5), a float >= 0.
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if bandwidth is None:
        bandwidth = median_distance(b)

    def mean_kernel(u, v):
        squared = (np.sum(u**2, 1)[:, None] + np.sum(v**2, 1)[None, :]
                   - 2.0 * u @ v.T)
        return np.mean(np.exp(-np.maximum(squared, 0.0)
                              / (2.0 * bandwidth**2)))

    value = mean_kernel(a, a) + mean_kernel(b, b) - 2.0 * mean_kernel(a, b)
    return float(max(value, 0.0))


def median_distance(x):
    """Median Euclidean distance between distinct rows of `x` (> 0)."""
    x = np.asarray(x, "float64")
    squared = (np.sum(x**2, 1)[:, None] + np.sum(x**2, 1)[None, :]
               - 2.0 * x @ x.T)
    upper = squared[np.triu_indices(len(x), k=1)]
    return float(max(np.sqrt(np.median(np.maximum(upper, 0.0))), 1e-12))


def ks_statistics(a, b):
    """Two-sample Kolmogorov-Smirnov D for every column of `a` and `b`.

    Returns:
        (d,) array of sup_t |F_a(t) - F_b(t)| over the pooled points.
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    out = []
    for column in range(a.shape[1]):
        sa, sb = np.sort(a[:, column]), np.sort(b[:, column])
        points = np.concatenate([sa, sb])
        fa = np.searchsorted(sa, points, side="right") / len(sa)
        fb = np.searchsorted(sb, points, side="right") / len(sb)
        out.append(np.max(np.abs(fa - fb)))
    return np.asarray(out)


def prior_match(codes, prior, labels=None, max_points=2000, seed=0):
    """MMD and KS between `codes` and as many samples of `prior`.

    Args:
        codes: (n, latent_dim) codes of a test set.
        prior: a `kerasae.models.priors.Prior`.
        labels: optional (n,) labels, for label-conditional priors.
        max_points: subsample size for the MMD (quadratic cost).
        seed: seeds the subsample and the prior draw.

    Returns:
        `{"prior_mmd", "prior_ks_max", "prior_ks_mean"}` floats.
    """
    codes = np.asarray(codes, "float32")
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(codes))[:max_points]
    codes = codes[keep]
    if labels is not None:
        labels = np.asarray(labels)[keep]
    samples = keras.ops.convert_to_numpy(prior.sample(
        len(codes), keras.random.SeedGenerator(seed), labels))
    ks = ks_statistics(codes, samples)
    return {
        "prior_mmd": mmd(codes, samples),
        "prior_ks_max": float(np.max(ks)),
        "prior_ks_mean": float(np.mean(ks)),
    }


def model_prior_match(model, x, prior="gaussian", prior_params=None,
                      **kwargs):
    """`prior_match` for any model with `encode` (a plain `ae`, say).

    Args:
        model: has `encode(x)` and `latent_dim`.
        x: examples in model space.
        prior: a prior name, or a `Prior`.
        prior_params: parameters when `prior` is a name.
        **kwargs: passed to `prior_match`.
    """
    if isinstance(prior, str):
        prior = priors.build(prior, model.latent_dim, prior_params)
    return prior_match(inference.encode(model, x), prior, **kwargs)


def component_counts(codes, centers):
    """Codes per nearest component centre (mixture priors).

    Args:
        codes: (n, d) codes.
        centers: (k, d) component means; only the first two dimensions
            (the circle) are compared.

    Returns:
        (k,) int counts.
    """
    codes = np.asarray(codes)[:, :2]
    centers = np.asarray(centers)[:, :2]
    nearest = np.argmin(
        np.sum((codes[:, None, :] - centers[None]) ** 2, axis=2), axis=1)
    return np.bincount(nearest, minlength=len(centers))


def model_metrics(model, x, y=None, max_points=2000, seed=0):
    """The prior-match figures of a model trained toward a prior.

    Adversarial autoencoder: `prior_match` of the codes of `x` (and, for
    the mixture, the codes per nearest component and the smallest share).
    GAN (no encoder): the MMD between up to `max_points` examples and as
    many generated samples. Other models: nothing.

    Returns:
        A dict of figures for `metrics.json`.
    """
    if not model.uses_prior:
        return {}
    if not model.has_encoder:
        x = x[:max_points]
        fake = keras.ops.convert_to_numpy(model.generate(
            len(x), seed=keras.random.SeedGenerator(seed)))
        return {"sample_mmd": mmd(fake.reshape(len(x), -1),
                                  x.reshape(len(x), -1))}
    labels = y if model.label_to_discriminator else None
    codes = inference.encode(model, x)
    result = prior_match(codes, model.prior, labels=labels)
    if hasattr(model.prior, "centers"):
        counts = component_counts(codes, model.prior.centers())
        result["prior_component_counts"] = [int(c) for c in counts]
        result["prior_component_min_share"] = float(
            np.min(counts) / max(1, np.sum(counts)))
    return result
