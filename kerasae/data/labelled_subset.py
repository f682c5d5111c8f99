"""The labelled subset of a semi-supervised run.

Semi-supervised training keeps the labels of `n` training examples, the
same number of each class, and uses the whole training split without
labels (Makhzani et al. 2015, Section 5: 100 or 1000 of MNIST's labels).
Which examples keep their label is a pure function of the label array,
`n` and the seed, so a resumed run, a run on another path and its
evaluation all see the same subset.
"""

import numpy as np

from kerasae.errors import ConfigError


def choose(labels, n, seed, num_classes=None):
    """Indices of a class-balanced labelled subset.

    Class c keeps `n // K` of its examples, plus one of the `n % K` classes
    that come first in a seeded order, so the subset has exactly `n`
    examples. Within a class the examples are a seeded permutation's first.

    Args:
        labels: (m,) int labels of the training examples (in the order
            the caller will index them).
        n: subset size; None keeps every example.
        seed: the run's seed.
        num_classes: K (default: the largest label + 1).

    Returns:
        Sorted int64 indices into `labels`.

    Raises:
        ConfigError: `n` is more than the examples there are, fewer than
            one per class, or more than a class holds.
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    k = int(num_classes or (labels.max() + 1 if len(labels) else 0))
    if n > len(labels):
        raise ConfigError(
            f"--labelled_examples={n} is more than the {len(labels)} "
            "labelled training examples; give fewer")
    if n < k:
        raise ConfigError(
            f"--labelled_examples={n} is fewer than one per class ({k} "
            f"classes); give at least {k}")
    rng = np.random.default_rng([int(seed), 0x1abe1])
    per_class = np.full(k, n // k)
    per_class[rng.permutation(k)[:n % k]] += 1
    chosen = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class[c]:
            raise ConfigError(
                f"--labelled_examples={n} needs {per_class[c]} examples of "
                f"class {c}, which has {len(members)}; give fewer")
        chosen.append(rng.permutation(members)[:per_class[c]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)
