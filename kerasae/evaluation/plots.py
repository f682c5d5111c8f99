"""Pictures of a trained autoencoder, as PNG files (matplotlib, Agg).

Each function writes one file and returns its path, so a user can call it
from Python; `plot_run` draws every picture that applies to a run under
`RUN/plots/`. Image data is drawn as images; tabular examples as feature
profiles (one line per example).
"""

import csv
import os

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from kerasae import workdir as wd  # noqa: E402
from kerasae.evaluation import plots_latent  # noqa: E402
from kerasae.models import layers as kae_layers  # noqa: E402

PLOTS = "plots"


def _is_image(shape):
    return len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3, 4))


def _save(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def image_rows(rows, path, titles=(), data_range=(0.0, 1.0)):
    """Draws rows of examples, one row per array in `rows`.

    Args:
        rows: list of arrays `(n, *shape)` with the same n.
        path: PNG file to write.
        titles: a label per row.
        data_range: (min, max) of the values, for the grey scale.

    Returns:
        `path`.
    """
    n, shape = len(rows[0]), rows[0].shape[1:]
    if not _is_image(shape):
        return _profiles(rows, path, titles)
    fig, axes = plt.subplots(len(rows), n, squeeze=False,
                             figsize=(n * 0.9, len(rows) * 0.95))
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
    return _save(fig, path)


def _profiles(rows, path, titles):
    n = len(rows[0])
    fig, axes = plt.subplots(1, n, squeeze=False, figsize=(n * 2.0, 1.8),
                             sharey=True)
    for c in range(n):
        for r, row in enumerate(rows):
            axes[0, c].plot(np.ravel(row[c]), lw=1,
                            label=titles[r] if r < len(titles) else None)
        axes[0, c].set_xticks([])
    if titles:
        axes[0, 0].legend(fontsize=6)
    return _save(fig, path)


def reconstruction_grid(x, x_hat, path, n=10, data_range=(0.0, 1.0)):
    """Inputs (top row) over their reconstructions (bottom row)."""
    return image_rows([x[:n], x_hat[:n]], path, ("input", "output"),
                      data_range)


def denoising_rows(noisy, clean, denoised, path, n=10,
                   data_range=(0.0, 1.0)):
    """Noisy inputs, clean originals and the denoised outputs, in rows."""
    return image_rows([noisy[:n], clean[:n], denoised[:n]], path,
                      ("noisy", "clean", "denoised"), data_range)


def sample_grid(model, n, path, seed=0):
    """An n x n grid of samples decoded from the model's prior.

    The one of `kerasae.evaluation.plots_latent` (VAE: N(0, I); adversarial
    autoencoder and GAN: their priors), here so every picture of a run can
    be found in one module.
    """
    return plots_latent.sample_grid(model, n, path, seed)


def pca_2d(codes):
    """Projects codes on their first two principal axes (2-D: unchanged)."""
    codes = np.asarray(codes, np.float64)
    if codes.shape[1] <= 2:
        return codes
    centered = codes - codes.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return centered @ vt[:2].T


def code_map(codes, path, labels=None):
    """The code space in 2-D (PCA projection above 2-D), coloured by label."""
    points = pca_2d(codes)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    if points.shape[1] == 1:
        points = np.c_[points, np.zeros(len(points))]
    classes = () if labels is None else np.unique(labels)
    if 0 < len(classes) <= 20:
        colours = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
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
    return _save(fig, path)


def interpolation(model, x_a, x_b, path, steps=10, data_range=(0.0, 1.0)):
    """Decodes codes on the line from encode(x_a) to encode(x_b).

    The row starts with x_a and ends with x_b (the inputs themselves).
    """
    codes = model.encode(ops.convert_to_tensor(np.stack([x_a, x_b])))
    codes = keras.ops.convert_to_numpy(codes)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    line = ((1 - t) * codes[0] + t * codes[1]).astype(np.float32)
    decoded = keras.ops.convert_to_numpy(model.decode(line))
    row = np.concatenate([x_a[None], decoded, x_b[None]])
    return image_rows([row], path, data_range=data_range)


def training_curves(history_csv, path):
    """Each metric of `history.csv` against the epoch, with validation."""
    with open(history_csv) as handle:
        rows = list(csv.DictReader(handle))
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")]
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, len(names), squeeze=False,
                             figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [float(r[name]) for r in rows], label="train")
        if "val_" + name in rows[0]:
            ax.plot(epochs, [float(r["val_" + name]) for r in rows],
                    label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def score_histogram(scores, threshold, path, labels=None, score_name=""):
    """Histogram of anomaly scores (normal / anomalous if labelled)."""
    scores = np.asarray(scores)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
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
    return _save(fig, path)


def plot_run(model, bundle, workdir, scores=None, threshold=None,
             labels=None, seed=0, score_name=""):
    """Draws every picture that applies to a run under `RUN/plots/`.

    Returns:
        File names written, relative to `RUN/plots/`.
    """
    folder = wd.path(workdir, PLOTS)
    split, r = bundle.eval_split, bundle.data_range
    written = []

    def out(name):
        written.append(name)
        return os.path.join(folder, name)

    encoder = getattr(model, "encoder", None) is not None
    supervised = getattr(model, "uses_labels", False)
    if encoder:
        from kerasae import evaluation
        x = split.x[:10]
        y = None if split.y is None else split.y[:10]
        x_hat = evaluation.reconstruct(model, x, y)
        reconstruction_grid(x, x_hat, out("reconstruction.png"), data_range=r)
        if model.config.name == "dae":
            c = model.config
            noisy = keras.ops.convert_to_numpy(kae_layers.corrupt(
                ops.convert_to_tensor(x), c.noise, c.noise_level, r,
                keras.random.SeedGenerator(seed)))
            denoised = evaluation.reconstruct(model, noisy)
            denoising_rows(noisy, x, denoised, out("denoising.png"),
                           data_range=r)
        some = split.x[:2000]
        code_map(evaluation.encode(model, some), out("codes.png"),
                 None if split.y is None else split.y[:2000])
        if not supervised:
            interpolation(model, split.x[0], split.x[1],
                          out("interpolation.png"), data_range=r)
    generative = (hasattr(model, "encode_distribution")
                  or hasattr(model, "sample_prior"))
    if generative and _is_image(tuple(bundle.input_shape)):
        sample_grid(model, 6, out("samples.png"), seed)
    history = wd.path(workdir, wd.HISTORY)
    if os.path.exists(history) and os.path.getsize(history):
        training_curves(history, out("training_curves.png"))
    if scores is not None:
        score_histogram(scores, threshold, out("anomaly_scores.png"), labels,
                        score_name)
    return written
