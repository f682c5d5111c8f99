"""`--test_dataset=FILE`: a second file, read like the first, as the test
split.

The file is read by the same reader with the same options (label column,
features), and must give examples of the same shape (and, for CSV files,
the same feature columns) as the training file. It replaces the source's
own test split. Series read their test file in `kerasae.data.series`.
"""

import dataclasses

from kerasae.errors import DataError


def read_test_split(config, source, read_source):
    """The raw test `Split` that `config.test_dataset` names.

    Args:
        config: the `DataConfig`; `test_dataset` is set.
        source: the training `Source` (its columns and shape).
        read_source: `kerasae.data.loader.read_source`.

    Returns:
        A `Split` of raw arrays.

    Raises:
        DataError: the file cannot be read, or its columns or example
            shape differ from the training file's.
    """
    path = config.test_dataset
    other = read_source(dataclasses.replace(config, dataset=path))
    if tuple(other.feature_names) != tuple(source.feature_names):
        raise DataError(
            f"--test_dataset={path}: its features "
            f"({', '.join(other.feature_names)}) differ from the training "
            f"file's ({', '.join(source.feature_names)}); give a file with "
            "the same columns")
    shape, expected = other.train.x.shape[1:], source.train.x.shape[1:]
    if shape != expected:
        raise DataError(
            f"--test_dataset={path}: one example has shape {tuple(shape)} "
            f"but the training data's has {tuple(expected)}; give a file "
            "of the same kind")
    split = other.train
    if other.test is not None and other.validation is None:
        split = other.test  # e.g. a TFDS name: its test split
    return split
