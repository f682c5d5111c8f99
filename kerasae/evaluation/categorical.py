"""Figures and pictures of a model with a categorical code.

The semi-supervised and clustering adversarial autoencoders (Makhzani et
al. 2015, Sections 5 and 6) give q(y|x) over K categories:

- semi-supervised: the categories are the classes, and `test_error` is
  the share of examples whose most probable class is wrong (their
  Table 2).
- clustering: each cluster takes the majority label of the training
  examples assigned to it, and `cluster_error` is the test error of that
  assignment (their Section 6, Table 3); `cluster_sizes` (examples per
  cluster, on the split judged) are reported with or without labels.

`style_content_grid` draws their Figure 9: each row one style z drawn
from the prior, each column one category y.
"""

import keras
import numpy as np

from kerasae.evaluation import inference

BATCH_SIZE = 512


def probabilities(model, x, batch_size=BATCH_SIZE):
    """q(y|x) of model-space `x`, float32 (n, K)."""
    out = [np.asarray(model.classify(b))
           for b in inference.batches(x, batch_size)]
    return np.concatenate(out) if out else np.zeros(
        (0, model.categories), np.float32)


def majority_labels(assigned, labels, categories):
    """The majority label of each category's examples (-1: empty)."""
    labels = np.asarray(labels).reshape(-1)
    mapping = np.full(categories, -1, np.int64)
    for c in range(categories):
        members = labels[assigned == c]
        if len(members):
            mapping[c] = np.bincount(members).argmax()
    return mapping


def report(model, train, split, batch_size=BATCH_SIZE):
    """The categorical figures of `model` on `split`.

    Args:
        model: a model with `can_classify`.
        train: the training `Split` (its labels map clusters to labels).
        split: the split judged (test, or validation without one).
        batch_size: examples per forward pass.

    Returns:
        `{"categories", "cluster_sizes"}`, plus `test_error` (semi-
        supervised) or `cluster_error` and `cluster_labels` (clustering)
        when the labels are there.
    """
    assigned = probabilities(model, split.x, batch_size).argmax(axis=1)
    k = int(model.categories)
    result = {"categories": k, "cluster_sizes": [
        int(v) for v in np.bincount(assigned, minlength=k)]}
    if split.y is None:
        return result
    y = np.asarray(split.y).reshape(-1)
    if model.uses_labelled_subset:
        result["test_error"] = float(np.mean(assigned != y))
        return result
    if train.y is not None:
        train_assigned = probabilities(
            model, train.x, batch_size).argmax(axis=1)
        mapping = majority_labels(train_assigned, train.y, k)
        result["cluster_labels"] = [int(v) for v in mapping]
        result["cluster_error"] = float(np.mean(mapping[assigned] != y))
    return result


def style_content_grid(model, rows=10, seed=0, data_range=(0.0, 1.0)):
    """Figure 9 of Makhzani et al. (2015): rows of styles, columns of
    categories.

    Args:
        model: a model with `can_classify` (images are drawn as images,
            other examples as a line of their values).
        rows: styles drawn from the prior, one per row.
        seed: seed of the style draws.
        data_range: (min, max) the images are shown in.

    Returns:
        A `Figure`.
    """
    from matplotlib.figure import Figure  # only the picture needs it

    k = int(model.categories)
    styles = np.asarray(model.prior.style.sample(
        rows, seed=keras.random.SeedGenerator(seed)))
    styles = styles[:, None, :].repeat(k, axis=1)
    categories = np.broadcast_to(np.eye(k, dtype=np.float32),
                                 (rows, k, k))
    codes = np.concatenate([categories, styles], axis=2).reshape(
        rows * k, -1)
    images = inference.decode(model, codes)
    images = images.reshape((rows, k) + images.shape[1:])
    fig = Figure(figsize=(0.8 * k, 0.8 * rows), dpi=90)
    for r in range(rows):
        for c in range(k):
            axis = fig.add_subplot(rows, k, r * k + c + 1)
            _draw(axis, images[r, c], data_range)
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(str(c), fontsize=8)
    fig.suptitle("each row one style z, each column one category y")
    return fig


def _draw(axis, example, data_range):
    """An image (h, w, c), or the values of any other example as a line."""
    if example.ndim == 3 and example.shape[-1] in (1, 3):
        axis.imshow(example[..., 0] if example.shape[-1] == 1 else
                    np.clip(example, *data_range), cmap="gray",
                    vmin=data_range[0], vmax=data_range[1])
    else:
        axis.plot(example.reshape(-1), linewidth=0.8)
