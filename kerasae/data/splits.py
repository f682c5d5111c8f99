"""Choosing the train, validation and test examples of a `Source`.

The source's own validation split is used when it has one; otherwise a
seeded random `validation_fraction` of the training examples is held out,
so the same seed always gives the same split. `train_classes` then keeps
only some labels in train and validation (the test split stays whole, so
that unseen classes can be scored as anomalies).
"""

import numpy as np

from kerasae.errors import ConfigError
from kerasae.errors import DataError


def choose_splits(source, validation_fraction, train_classes, seed):
    """Returns the `(train, validation, test)` splits of a source.

    Args:
        source: a `Source` of raw arrays.
        validation_fraction: share of the training examples held out when
            the source has no validation split, in [0, 1). With 0 the test
            split doubles as validation.
        train_classes: labels to keep in train and validation; () keeps all.
        seed: seeds the held-out permutation.

    Returns:
        Three `Split`s of raw arrays; test is None when the source has none.

    Raises:
        ConfigError: `validation_fraction` outside [0, 1).
        DataError: too few examples to hold any out, no split to validate
            on, `train_classes` without labels or naming an absent class.
    """
    if not 0 <= validation_fraction < 1:
        raise ConfigError(
            f"--validation_fraction={validation_fraction}: must be in [0, 1)")
    train, validation, test = source.train, source.validation, source.test
    if train_classes:
        train = filter_classes(train, train_classes, source.name, "training")
        if validation is not None:
            validation = filter_classes(
                validation, train_classes, source.name, "validation")
    if validation is None:
        if validation_fraction > 0:
            train, validation = hold_out(
                train, validation_fraction, seed, source.name)
        elif test is not None:
            validation = test
            if train_classes:
                validation = filter_classes(
                    validation, train_classes, source.name, "test")
        else:
            raise DataError(
                f"--validation_fraction=0 but {source.name} has no test "
                "split to validate on: use a fraction above 0, e.g. 0.1")
    return train, validation, test


def hold_out(split, fraction, seed, name):
    """Splits off a random `fraction` of `split` as validation.

    At least one example goes to each side. Both sides keep the source's
    order (training shuffles anyway, and ordered splits are easier to
    inspect).

    Args:
        split: the training examples.
        fraction: share to hold out, in (0, 1).
        seed: seeds the permutation.
        name: the source's name, for errors.

    Returns:
        `(train, validation)`.

    Raises:
        DataError: fewer than 2 examples.
    """
    n = len(split)
    if n < 2:
        raise DataError(
            f"{name}: {n} training example(s) are too few to hold out a "
            f"validation split (--validation_fraction={fraction}): need at "
            "least 2")
    n_validation = min(max(int(round(n * fraction)), 1), n - 1)
    permutation = np.random.default_rng(seed).permutation(n)
    held_out = np.zeros(n, dtype=bool)
    held_out[permutation[:n_validation]] = True
    return split.take(~held_out), split.take(held_out)


def filter_classes(split, classes, name, split_name):
    """Keeps only the examples whose label is in `classes`.

    Args:
        split: a `Split` with labels.
        classes: class indices to keep.
        name: the source's name, for errors.
        split_name: `training`, `validation` or `test`, for errors.

    Returns:
        The filtered `Split`.

    Raises:
        DataError: the split has no labels, or lacks one of `classes`.
    """
    if split.y is None:
        raise DataError(
            f"--train_classes needs labels, but {name} has none (give a "
            "label column, a 'y' array, or one subfolder per class)")
    classes = np.asarray([int(c) for c in classes], dtype=np.int64)
    present = np.unique(split.y)
    absent = np.setdiff1d(classes, present)
    if len(absent):
        shown = ", ".join(str(c) for c in present[:20])
        more = ", ..." if len(present) > 20 else ""
        raise DataError(
            f"--train_classes: class {absent[0]} is absent from the "
            f"{split_name} data of {name} (classes present: {shown}{more})")
    return split.take(np.isin(split.y, classes))
