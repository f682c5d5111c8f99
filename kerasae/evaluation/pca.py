"""PCA bases: exact from the covariance, randomized for wide inputs.

The exact PCA baseline (`metrics.pca_reconstruction_mse`) takes the
eigenvectors of the d x d covariance: 1.2 GB in float64 for 64x64x3
images, and O(d^3) time. Above `EXACT_MAX_FEATURES` features the basis
comes from the randomized range finder with power iterations instead
(Halko, Martinsson and Tropp 2011, "Finding structure with randomness",
Algorithms 4.4 and 5.1), which needs the n x d data, a few n x (k + p)
and (k + p) x d matrices, and no d x d one.
"""

import numpy as np

# Up to 64x64 grey images (4,096 features) the covariance is 128 MB and
# the exact eigendecomposition stays (MNIST's README figures use it).
EXACT_MAX_FEATURES = 4096
OVERSAMPLING = 10
POWER_ITERATIONS = 4


def randomized_basis(centered, k, seed=0):
    """The top-`k` right singular vectors of `centered`, approximately.

    Args:
        centered: `(n, d)` float array with zero column means.
        k: number of components.
        seed: seeds the random test matrix.

    Returns:
        `(d, min(k, n, d))` float64 array with orthonormal columns.
    """
    n, d = centered.shape
    k = min(k, n, d)
    width = min(k + OVERSAMPLING, n, d)
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(centered @ rng.standard_normal((d, width)))[0]
    for _ in range(POWER_ITERATIONS):
        # Re-orthonormalized subspace iteration (Algorithm 4.4): without
        # the QR steps the small singular values drown in rounding.
        q = np.linalg.qr(centered.T @ q)[0]
        q = np.linalg.qr(centered @ q)[0]
    _, _, vt = np.linalg.svd(q.T @ centered, full_matrices=False)
    return vt[:k].T.astype(np.float64)


def basis(centered, k, seed=0):
    """The top-`k` principal directions of `centered` data.

    Eigenvectors of the d x d scatter matrix up to `EXACT_MAX_FEATURES`
    features (far cheaper than an SVD of the n x d data when n >> d),
    `randomized_basis` above.

    Args:
        centered: `(n, d)` float array with zero column means.
        k: number of components.
        seed: seeds the randomized basis.

    Returns:
        `(d, min(k, d))` float64 array with orthonormal columns (at most
        n columns for the randomized basis).
    """
    if centered.shape[1] > EXACT_MAX_FEATURES:
        return randomized_basis(centered, k, seed)
    _, vectors = np.linalg.eigh(centered.T @ centered)
    return vectors[:, ::-1][:, :min(k, centered.shape[1])]
