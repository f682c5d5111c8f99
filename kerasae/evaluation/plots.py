"""Pictures of a trained autoencoder, as matplotlib figures.

Every drawing function returns a `matplotlib.figure.Figure` built without
pyplot, so it needs no backend, leaves no global state behind and shows
inline in a notebook; `save(fig, path)` writes one as PNG. Only
`plot_run` (what `python -m kerasae.evaluate` calls) writes files: every
picture that applies to a run, under `RUN/plots/`. Image data is drawn as
images; tabular examples as feature profiles (one line per example).

    from kerasae.evaluation import plots
    fig = plots.reconstruction_grid(x, x_hat)   # a Figure: shows inline
    plots.save(fig, "reconstruction.png")
"""

import csv
import os

import keras
import matplotlib
import numpy as np
from keras import ops
from matplotlib.figure import Figure

from kerasae import workdir as wd
from kerasae.errors import ConfigError
from kerasae.evaluation import inference
from kerasae.evaluation import plots_latent
from kerasae.models import layers as kae_layers

PLOTS = wd.PLOTS


def _is_image(shape):
    return len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3, 4))


# Dots per inch of the PNG files (and of the figures on screen).
DPI = 80


def save(fig, path):
    """Writes `fig` as a PNG file at the figure's own resolution.

    Creates the folder if needed and replaces an existing file at `path`.

    Args:
        fig: a `matplotlib.figure.Figure`.
        path: file to write.

    Returns:
        `path`.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi="figure", bbox_inches="tight")
    return path


def _require_encoder(model, picture):
    if not model.has_encoder:
        raise ConfigError(
            f"{picture} needs a model with an encoder; the "
            f"{model.config.name!r} model has none")


def image_rows(rows, titles=(), data_range=(0.0, 1.0)):
    """Draws rows of examples, one row per array in `rows`.

    Args:
        rows: list of arrays `(n, *shape)` with the same n.
        titles: a label per row.
        data_range: (min, max) of the values, for the grey scale.

    Returns:
        A `Figure`: one image axes per example (images), or one line
        plot per example with a line per row (tabular data).
    """
    n, shape = len(rows[0]), rows[0].shape[1:]
    if not _is_image(shape):
        return _profiles(rows, titles)
    fig = Figure(figsize=(n * 0.9, len(rows) * 0.95), dpi=DPI)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n):
            image = np.asarray(row[c], np.float32)
            image = image[..., 0] if image.ndim == 3 and \
                image.shape[-1] == 1 else image
            if image.ndim == 3:
                image = (image - data_range[0]) / (data_range[1]
                                                   - data_range[0])
            axes[r, c].imshow(np.clip(image, *data_range)
                              if image.ndim == 2 else np.clip(image, 0, 1),
                              cmap="gray", vmin=data_range[0],
                              vmax=data_range[1])
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        if r < len(titles):
            axes[r, 0].set_ylabel(titles[r], fontsize=8)
    return fig


def _profiles(rows, titles):
    n = len(rows[0])
    fig = Figure(figsize=(n * 2.0, 1.8), dpi=DPI)
    axes = fig.subplots(1, n, squeeze=False, sharey=True)
    for c in range(n):
        for r, row in enumerate(rows):
            axes[0, c].plot(np.ravel(row[c]), lw=1,
                            label=titles[r] if r < len(titles) else None)
        axes[0, c].set_xticks([])
    if titles:
        axes[0, 0].legend(fontsize=6)
    return fig


def reconstruction_grid(x, x_hat, n=10, data_range=(0.0, 1.0)):
    """Inputs (top row) over their reconstructions (bottom row)."""
    return image_rows([x[:n], x_hat[:n]], ("input", "output"), data_range)


def denoising_rows(noisy, clean, denoised, n=10, data_range=(0.0, 1.0)):
    """Noisy inputs, clean originals and the denoised outputs, in rows."""
    return image_rows([noisy[:n], clean[:n], denoised[:n]],
                      ("noisy", "clean", "denoised"), data_range)


def sample_grid(model, n, seed=0):
    """An n x n grid of samples decoded from the model's prior.

    The one of `kerasae.evaluation.plots_latent` (VAE: N(0, I); adversarial
    autoencoder and GAN: their priors), here so every picture of a run can
    be found in one module.
    """
    return plots_latent.sample_grid(model, n, seed)


def pca_2d(codes):
    """Projects codes on their first two principal axes (2-D: unchanged)."""
    codes = np.asarray(codes, np.float64)
    if codes.shape[1] <= 2:
        return codes
    centered = codes - codes.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T


def code_map(codes, labels=None):
    """The code space in 2-D (PCA projection above 2-D), coloured by label.

    Returns:
        A `Figure` with one scatter axes (and a colour bar for many
        classes).
    """
    points = pca_2d(codes)
    fig = Figure(figsize=(5, 4.5), dpi=DPI)
    ax = fig.subplots()
    if points.shape[1] == 1:
        points = np.c_[points, np.zeros(len(points))]
    classes = () if labels is None else np.unique(labels)
    if 0 < len(classes) <= 20:
        colours = matplotlib.colormaps[
            "tab20" if len(classes) > 10 else "tab10"]
        for i, label in enumerate(classes):
            keep = np.asarray(labels) == label
            ax.scatter(points[keep, 0], points[keep, 1], s=3, alpha=0.7,
                       color=colours(i), label=str(label))
        ax.legend(markerscale=4, fontsize=7, loc="best")
    else:
        scatter = ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.7,
                             c=labels if labels is not None else "tab:blue")
        if labels is not None:
            fig.colorbar(scatter, ax=ax, label="label")
    projected = np.asarray(codes).shape[1] > 2
    ax.set_xlabel("PC 1" if projected else "z 1")
    ax.set_ylabel("PC 2" if projected else "z 2")
    ax.set_title("codes" + (" (PCA projection)" if projected else ""))
    return fig


def interpolation(model, x_a, x_b, steps=10, data_range=(0.0, 1.0)):
    """Decodes codes on the line from encode(x_a) to encode(x_b).

    The row starts with x_a and ends with x_b (the inputs themselves).

    Returns:
        A `Figure` of `steps + 2` image axes in one row.

    Raises:
        ConfigError: the model has no encoder, or decodes (code, label).
    """
    _require_encoder(model, "an interpolation")
    if model.uses_labels:
        raise ConfigError(
            f"an interpolation decodes codes without labels; the supervised "
            f"{model.config.name!r} model decodes (code, label)")
    codes = inference.encode(model, np.stack([x_a, x_b]))
    t = np.linspace(0.0, 1.0, steps)[:, None]
    line = ((1 - t) * codes[0] + t * codes[1]).astype(np.float32)
    decoded = inference.decode(model, line)
    row = np.concatenate([x_a[None], decoded, x_b[None]])
    return image_rows([row], data_range=data_range)


def training_curves(history_csv):
    """Each metric of `history.csv` against the epoch, with validation.

    Returns:
        A `Figure` with one axes per metric.
    """
    with open(history_csv) as handle:
        rows = list(csv.DictReader(handle))
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")]
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig = Figure(figsize=(3.2 * len(names), 2.8), dpi=DPI)
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [float(r[name]) for r in rows], label="train")
        if "val_" + name in rows[0]:
            ax.plot(epochs, [float(r["val_" + name]) for r in rows],
                    label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def score_histogram(scores, threshold, labels=None, score_name=""):
    """Histogram of anomaly scores (normal / anomalous if labelled).

    Returns:
        A `Figure` with one axes: the histogram(s) and the threshold line.
    """
    scores = np.asarray(scores)
    fig = Figure(figsize=(5.5, 3.5), dpi=DPI)
    ax = fig.subplots()
    bins = np.linspace(scores.min(), scores.max(), 60)
    if labels is None:
        ax.hist(scores, bins=bins, color="tab:blue")
    else:
        # Densities: anomalies often outnumber normal examples tenfold.
        labels = np.asarray(labels).astype(bool)
        ax.hist(scores[labels], bins=bins, alpha=0.6, density=True,
                label=f"anomaly ({labels.sum()})", color="tab:orange")
        ax.hist(scores[~labels], bins=bins, alpha=0.6, density=True,
                label=f"normal ({(~labels).sum()})", color="tab:blue")
    ax.axvline(threshold, color="black", ls="--",
               label=f"threshold {threshold:.4g}")
    ax.set_xlabel(score_name or "score")
    ax.set_ylabel("examples" if labels is None else "density")
    ax.legend(fontsize=8)
    return fig


def plot_run(model, bundle, workdir, scores=None, threshold=None,
             labels=None, seed=0, score_name=""):
    """Draws every picture that applies to a run under `RUN/plots/`.

    The script side of this module: the one function that writes files
    (`python -m kerasae.evaluate` calls it through `evaluate_run`).

    Returns:
        File names written, relative to `RUN/plots/`.
    """
    folder = wd.path(workdir, PLOTS)
    split, r = bundle.eval_split, bundle.data_range
    written = []

    def out(name, fig):
        save(fig, os.path.join(folder, name))
        written.append(name)

    if model.has_encoder:
        x = split.x[:10]
        y = None if split.y is None else split.y[:10]
        x_hat = inference.reconstruct(model, x, y)
        out("reconstruction.png", reconstruction_grid(x, x_hat, data_range=r))
        if model.config.name == "dae":
            c = model.config
            noisy = keras.ops.convert_to_numpy(kae_layers.corrupt(
                ops.convert_to_tensor(x), c.noise, c.noise_level, r,
                keras.random.SeedGenerator(seed)))
            denoised = inference.reconstruct(model, noisy)
            out("denoising.png",
                denoising_rows(noisy, x, denoised, data_range=r))
        some = split.x[:2000]
        some_y = None if split.y is None else split.y[:2000]
        out("codes.png", code_map(
            inference.encode(model, some, labels=some_y), some_y))
        # Indices of a codebook (VQ-VAE) have no line between them.
        if not model.uses_labels and getattr(model, "code_dtype",
                                             "float32") == "float32":
            out("interpolation.png", interpolation(
                model, split.x[0], split.x[1], data_range=r))
    if model.is_generative and _is_image(tuple(bundle.input_shape)):
        out("samples.png", sample_grid(model, 6, seed))
    if model.can_classify:
        from kerasae.evaluation import categorical
        out("style_content.png", categorical.style_content_grid(
            model, seed=seed, data_range=r))
    history = wd.path(workdir, wd.HISTORY)
    if os.path.exists(history) and os.path.getsize(history):
        out("training_curves.png", training_curves(history))
    if scores is not None:
        out("anomaly_scores.png",
            score_histogram(scores, threshold, labels, score_name))
    return written
