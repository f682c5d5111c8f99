"""Evaluation metrics of a trained autoencoder.

- Reconstruction (`reconstruction_metrics`): per-element MSE, PSNR and the
  Bernoulli cross-entropy in nats per example, on model-space data.
- VAE: the negative ELBO (`negative_elbo`), the importance-weighted bound
  log p_k(x) (`iwae_bound`; Burda et al. 2016, Eq. 8) and the number of
  active latent units (`active_units`; Burda et al. 2016, Section 5.2).
- A PCA baseline (`pca_reconstruction_mse`): the best *linear* code of the
  same size (Baldi and Hornik 1989), to show what the nonlinearity buys.

`kerasae.evaluation.run_evaluation` computes them for a whole run.
"""

import math

import keras
import numpy as np

from kerasae.data import binarize as binarize_mod
from kerasae.evaluation import inference
from kerasae.evaluation import pca
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
