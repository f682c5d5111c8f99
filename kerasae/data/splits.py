"""The one split rule: which examples are train, validation and test.

A source's own `validation` part is used when it has one. Otherwise
validation holds out exactly `round(n * fraction)` training examples (at
least one, and at least one stays): those whose key, mixed with the seed
by splitmix64 (Steele, Lea and Flood 2014), is smallest. The rule reads
keys only, never the examples, so every path a run takes (in memory or
streamed, on any worker) holds out the same examples, and the same seed
always gives the same split. With `fraction` 0 the test part doubles as
validation. `--train_classes` keeps only some labels in train and
validation (the test part stays whole, so that unseen classes can be
scored as anomalies).
"""

import numpy as np

from kerasae.data import reader
from kerasae.errors import ConfigError
from kerasae.errors import DataError

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(z):
    """The splitmix64 finalizer of a uint64 array: a well-mixed hash."""
    with np.errstate(over="ignore"):
        z = np.asarray(z, np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def held_out(keys, seed, fraction, name):
    """bool per key: held out for validation (see the module docstring).

    Raises:
        DataError: fewer than 2 examples.
    """
    n = len(keys)
    if n < 2:
        raise DataError(
            f"{name}: {n} training example(s) are too few to hold out a "
            f"validation split (--validation_fraction={fraction}): need at "
            "least 2")
    count = min(max(int(round(n * fraction)), 1), n - 1)
    mixed = splitmix64(np.asarray(keys, np.uint64)
                       ^ splitmix64(np.uint64(seed % 2**64)))
    chosen = np.zeros(n, bool)
    chosen[np.argsort(mixed, kind="stable")[:count]] = True
    return chosen


def choose(source, fraction, classes, seed):
    """The examples of each split, as `(part, indices)` pairs.

    Args:
        source: a `kerasae.data.reader.Reader`.
        fraction: `--validation_fraction`, in [0, 1).
        classes: `--train_classes` (ints); () keeps every label.
        seed: the run's seed.

    Returns:
        `{"train": (part, indices), "validation": ..., "test": ... or
        None}`; indices are sorted int64 indices into the part.

    Raises:
        ConfigError: `fraction` outside [0, 1).
        DataError: too few examples, no split to validate on, or
            `--train_classes` without labels or naming an absent class.
    """
    if not 0 <= fraction < 1:
        raise ConfigError(
            f"--validation_fraction={fraction}: must be in [0, 1)")
    info = source.info
    parts = info.parts

    def every(part):
        return part, np.arange(parts[part], dtype=np.int64)

    def kept(part, indices, where):
        if not classes:
            return part, indices
        labels = source.labels(part)
        if labels is None:
            raise reader.no_labels("--train_classes", info.name)
        if where == "training":
            reader.check_classes(classes, labels, info.name)
        return part, indices[np.isin(labels[indices], classes)]

    train = every(reader.TRAIN)
    test = every(reader.TEST) if reader.TEST in parts else None
    if reader.VALIDATION in parts:
        validation = every(reader.VALIDATION)
    elif fraction > 0:
        held = held_out(source.keys(reader.TRAIN), seed, fraction, info.name)
        train = (reader.TRAIN, np.flatnonzero(~held))
        validation = (reader.TRAIN, np.flatnonzero(held))
    elif test is not None:
        validation = test
    else:
        raise DataError(
            f"--validation_fraction=0 but {info.name} has no test split to "
            "validate on: use a fraction above 0, e.g. 0.1")
    return {"train": kept(*train, "training"),
            "validation": kept(*validation, "validation"), "test": test}
