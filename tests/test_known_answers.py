"""Known answers from the literature.

- Mitchell, "Machine Learning" (1997), Figure 4.7: an 8-3-8 network learns
  to reproduce the eight one-hot vectors through a 3-unit code.
- Baldi and Hornik (1989): a linear autoencoder trained with squared error
  reaches the principal subspace, so its error equals PCA's for the same
  code size.
- The sparse autoencoder's mean code activation ends near rho.
"""

import keras
import numpy as np

from kerasae import models
from kerasae.config import ModelConfig


def test_8_3_8_autoencoder_reconstructs_one_hot_vectors():
    keras.utils.set_random_seed(0)
    x = np.eye(8, dtype="float32")
    model = models.build(ModelConfig(
        name="ae", hidden_units=(), latent_dim=3, reconstruction_loss="bce",
        output_activation="sigmoid", input_shape=(8,)))
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  steps_per_execution=100)
    # 1500 passes over the eight vectors, 100 per Keras epoch.
    model.fit(np.tile(x, (100, 1)), epochs=15, batch_size=8, shuffle=False,
              verbose=0)
    out = np.asarray(model(x))
    np.testing.assert_array_equal(out.argmax(axis=1), np.arange(8))
    # Every output is on the right side of 0.5, and close to its target.
    assert np.all((out > 0.5) == (x > 0.5))
    assert np.abs(out - x).max() < 0.2
    codes = np.asarray(model.encode(x))
    assert len({tuple(np.round(c, 3)) for c in codes}) == 8


def test_linear_autoencoder_reaches_pca_error():
    rng = np.random.default_rng(0)
    n, d, k = 512, 16, 4
    # Anisotropic Gaussian data, so the principal subspace is well defined.
    scales = np.linspace(3.0, 0.2, d)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (rng.normal(size=(n, d)) * scales) @ basis.T + 1.5
    x = x.astype("float32")

    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ vt[:k].T @ vt[:k]
    pca_mse = float(np.mean((centred - projected) ** 2))

    keras.utils.set_random_seed(0)
    model = models.build(ModelConfig(
        name="ae", hidden_units=(), latent_dim=k, activation="linear",
        reconstruction_loss="mse", output_activation="linear",
        input_shape=(d,)))
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  steps_per_execution=100)
    # 1000 full-batch steps, 100 per Keras epoch.
    model.fit(np.tile(x, (100, 1)), epochs=10, batch_size=n, shuffle=False,
              verbose=0)
    ae_mse = float(np.mean((np.asarray(model(x)) - x) ** 2))
    assert ae_mse <= 1.02 * pca_mse, (ae_mse, pca_mse)
    # And it cannot beat the optimum by more than rounding.
    assert ae_mse >= 0.999 * pca_mse, (ae_mse, pca_mse)


def test_sparse_autoencoder_mean_activation_ends_near_rho():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(512, 32)).astype("float32") ** 3
    rho = 0.1
    model = models.build(ModelConfig(
        name="sparse_ae", hidden_units=(64,), latent_dim=32,
        reconstruction_loss="bce", output_activation="sigmoid",
        sparsity="kl", sparsity_target=rho, sparsity_weight=3.0,
        input_shape=(32,)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, epochs=60, batch_size=64, verbose=0)
    codes = np.asarray(model.encode(x))
    assert abs(codes.mean() - rho) < 0.02, codes.mean()
    # Each unit, not just the average, is pushed toward rho.
    assert np.all(np.abs(codes.mean(axis=0) - rho) < 0.05)
