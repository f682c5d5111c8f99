"""Pictures of a latent space and its prior, as matplotlib figures.

The adversarial autoencoder's figures (Makhzani et al. 2015, Figures 2 and
4): the codes of a test set coloured by label beside samples of the prior,
and the decoder's outputs on a grid of prior points. `sample_grid` draws
the same grid of samples for a VAE (decoding N(0, I)), an adversarial
autoencoder (decoding its prior) and a GAN (generating), so they can be
compared side by side. Each function returns a `matplotlib.figure.Figure`
(no pyplot, no backend); `kerasae.evaluation.plots.save` writes it as PNG.

    from kerasae.evaluation import plots, plots_latent
    plots.save(plots_latent.plot_codes(model, test_x, test_y), "codes.png")
    plots.save(plots_latent.plot_decoded_grid(model), "manifold.png")
    plots.save(plots_latent.sample_grid(model, 10), "samples.png")
"""

import keras
import numpy as np
from matplotlib.figure import Figure

from kerasae.errors import ConfigError
from kerasae.evaluation import inference

# Dots per inch of these (larger, denser) figures.
DPI = 90
# Rows of a per-class sample grid, at most.
MAX_CLASS_ROWS = 20


def prior_draw(model, n, labels=None, seed=0):
    """n latent points: the model's prior, or N(0, I) (VAE, plain AE)."""
    if model.uses_prior:
        return keras.ops.convert_to_numpy(model.sample_prior(
            n, labels=labels, seed=keras.random.SeedGenerator(seed)))
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, model.latent_dim)).astype("float32")


def plot_codes(model, x, y, max_points=5000, seed=0):
    """Codes of `x` coloured by label `y`, beside as many prior samples.

    Only the first two code dimensions are drawn; both panels share axes.

    Returns:
        A `Figure` with two scatter axes (codes, prior samples), and a
        colour bar when `y` is given.

    Raises:
        ConfigError: the model has no encoder (the GAN).
    """
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(x))[:max_points]
    labels = None if y is None else np.asarray(y)[keep]
    codes = inference.encode(model, x[keep], labels=labels)
    samples = prior_draw(model, len(keep), labels, seed)
    both = np.concatenate([codes[:, :2], samples[:, :2]])
    low, high = np.percentile(both, 0.5, axis=0), np.percentile(
        both, 99.5, axis=0)
    pad = 0.1 * (high - low)
    fig = Figure(figsize=(10, 4.6), dpi=DPI)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    for ax, points, title in ((axes[0], codes, "codes q(z) of the test set"),
                              (axes[1], samples, "prior samples p(z)")):
        colour = labels if labels is not None and ax is axes[0] else None
        style = {"c": colour, "cmap": "tab10"} if colour is not None else {
            "c": "tab:gray"}
        scatter = ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.6,
                             **style)
        ax.set_title(title)
        ax.set_xlabel("z 1")
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        if colour is not None:
            fig.colorbar(scatter, ax=ax, label="label")
    axes[0].set_ylabel("z 2")
    return fig


def _tile(images, rows, columns):
    """(rows * columns, h, w[, c]) -> one (rows * h, columns * w[, c])."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    h, w = images.shape[1:3]
    grid = images.reshape(rows, columns, h, w, *images.shape[3:])
    return np.concatenate(np.concatenate(grid, axis=1), axis=1)


def _check_images(model):
    shape = tuple(model.config.input_shape)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ConfigError(
            f"image grids need (height, width, 1 or 3) examples; this model "
            f"has examples of shape {shape}")


def plot_decoded_grid(model, n=15, label=0, quantile=0.02, seed=0):
    """Decoder outputs on an n x n grid of points in the first two dims.

    The grid spans the `quantile` to 1 - `quantile` range of prior samples
    (other code dimensions at the prior's median); supervised models
    decode every point with `label`.

    Returns:
        A `Figure` with one image axes (the tiled outputs).

    Raises:
        ConfigError: the examples are not images.
    """
    _check_images(model)
    samples = prior_draw(model, 5000, np.full(5000, label), seed)
    low = np.quantile(samples, quantile, axis=0)
    high = np.quantile(samples, 1 - quantile, axis=0)
    codes = np.tile(np.median(samples, axis=0), (n * n, 1))
    first, second = np.linspace(low[0], high[0], n), np.linspace(
        high[1], low[1], n)  # z 2 grows upwards, as on a scatter plot
    codes[:, 0] = np.tile(first, n)
    codes[:, 1] = np.repeat(second, n)
    images = inference.decode(model, codes.astype("float32"),
                              np.full(n * n, label))
    fig = Figure(figsize=(7, 7), dpi=DPI)
    ax = fig.subplots()
    ax.imshow(_tile(images, n, n), cmap="gray", vmin=0.0, vmax=1.0,
              extent=(low[0], high[0], low[1], high[1]))
    ax.set_xlabel("z 1")
    ax.set_ylabel("z 2")
    ax.set_title("decoder outputs on a grid of prior points")
    return fig


def sample_grid(model, n, seed=0):
    """An n x n grid of samples: VAE, adversarial autoencoder or GAN.

    The VAE (`uses_prior` False: its prior is fixed) decodes N(0, I); the
    adversarial autoencoder decodes samples of its prior; the GAN generates
    from its prior. A model that decodes labels (supervised aae,
    conditional vae) gets one row per class (the first `MAX_CLASS_ROWS`),
    row i decoded with label i, so each row shows one class in n styles.

    Returns:
        A `Figure` with one image axes (the tiled samples).

    Raises:
        ConfigError: the model cannot sample, or its examples are not
            images.
    """
    if not model.is_generative:
        raise ConfigError(
            f"a sample grid needs a generative model (vae, aae, gan); the "
            f"{model.config.name!r} model has no prior to sample")
    _check_images(model)
    labels, rows, title = None, n, f"{model.config.name}: samples"
    if model.uses_labels:
        rows = min(int(model.config.num_classes), MAX_CLASS_ROWS)
        labels = np.repeat(np.arange(rows), n)
        title += f", row i has label i (0-{rows - 1})"
    codes = prior_draw(model, rows * n, labels, seed)
    images = inference.decode(model, codes, labels)
    fig = Figure(figsize=(6, 6 * rows / n), dpi=DPI)
    ax = fig.subplots()
    ax.imshow(_tile(images, rows, n), cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    ax.set_title(title)
    return fig
