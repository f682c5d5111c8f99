"""Tests of `kerasae.data`: every source, the splits, the scaling, bad input.

TFDS loading runs twice: under `tfds.testing.mock_data` (any dataset, no
files) and for real against the prepared MNIST in `../shared/tfds`. User
files are written into `tmp_path` by each test. Every bad input has a test
that checks the one-line message a user sees.
"""

import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from kerasae.config import DataConfig
from kerasae.data import DataBundle
from kerasae.data import Preprocessing
from kerasae.data import Split
from kerasae.data import load
from kerasae.data import make_dataset
from kerasae.data import tfds_reader
from kerasae.errors import DataError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TFDS = os.path.abspath(os.path.join(REPO, "..", "shared", "tfds"))


def data_error(dataset, **kwargs):
    """Returns the message of the `DataError` that loading raises."""
    with pytest.raises(DataError) as info:
        load(DataConfig(dataset=str(dataset), **kwargs))
    message = str(info.value)
    assert message and "\n" not in message, repr(message)
    assert "Traceback" not in message
    return message


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def write_png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


@pytest.fixture
def online(monkeypatch):
    """Pretend the network is up: under mock_data, "downloading" is free."""
    monkeypatch.setattr(tfds_reader, "network_reachable", lambda: True)


# Preprocessing and the tf.data pipeline.


def test_preprocessing_round_trips_through_json():
    prep = Preprocessing(offset=np.array([1.0, -2.0]), scale=[2.0, 0.5])
    restored = Preprocessing.from_dict(json.loads(json.dumps(prep.to_dict())))
    assert restored == prep
    assert restored.offset.dtype == np.float32
    x = np.array([[3.0, -1.0], [1.0, -2.0]])
    np.testing.assert_allclose(prep.apply(x), [[1.0, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(prep.invert(prep.apply(x)), x)


def test_preprocessing_rejects_a_zero_scale():
    with pytest.raises(ValueError, match="scale"):
        Preprocessing(offset=0.0, scale=[1.0, 0.0])


def test_make_dataset_batches_x_or_pairs():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    batches = list(make_dataset(x, batch_size=2).as_numpy_iterator())
    assert [len(b) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    y = np.arange(5)
    pairs = list(make_dataset(x, y, batch_size=2, drop_remainder=True)
                 .as_numpy_iterator())
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[1][1], [2, 3])


def test_make_dataset_shuffles_by_seed_and_reshuffles_each_epoch():
    x = np.arange(50, dtype=np.float32)

    def two_epochs(seed):
        ds = make_dataset(x, batch_size=50, shuffle=True, seed=seed)
        return list(ds.repeat(2).as_numpy_iterator())

    first, second = two_epochs(0)
    np.testing.assert_array_equal(np.sort(first), x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(two_epochs(0)[0], first)
    assert not np.array_equal(two_epochs(1)[0], first)


def test_make_dataset_repeats():
    ds = make_dataset(np.zeros((3, 1), np.float32), batch_size=2,
                      repeat=True)
    assert len(list(ds.take(5).as_numpy_iterator())) == 5


def test_make_dataset_repeats_whole_shuffled_epochs():
    x = np.arange(7, dtype=np.float32)
    ds = make_dataset(x, batch_size=3, shuffle=True, repeat=True)
    batches = list(ds.take(6).as_numpy_iterator())
    assert [len(b) for b in batches] == [3, 3, 1] * 2
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    np.testing.assert_array_equal(np.sort(first), x)
    np.testing.assert_array_equal(np.sort(second), x)
    assert not np.array_equal(first, second)


def test_make_dataset_knows_its_number_of_batches():
    # Keras's progress bar and its end of epoch need the cardinality.
    x = np.zeros((5, 2), np.float32)
    assert int(make_dataset(x, batch_size=2).cardinality()) == 3
    assert int(make_dataset(x, batch_size=2, shuffle=True,
                            drop_remainder=True).cardinality()) == 2
    assert make_dataset(x, batch_size=2, repeat=True).cardinality() == \
        tf.data.INFINITE_CARDINALITY


def test_make_dataset_refuses_to_repeat_no_batch():
    with pytest.raises(ValueError, match="larger than the 3 examples"):
        make_dataset(np.zeros((3, 1), np.float32), batch_size=4,
                     repeat=True, drop_remainder=True)


# TFDS under mock_data.


def test_tfds_mock_mnist_holds_out_validation(tmp_path, online):
    with tfds.testing.mock_data(num_examples=40):
        bundle = load(DataConfig(dataset="mnist", data_dir=str(tmp_path),
                                 validation_fraction=0.25))
    assert isinstance(bundle, DataBundle)
    assert (bundle.name, bundle.kind) == ("mnist", "image")
    assert bundle.input_shape == (28, 28, 1)
    assert (len(bundle.train), len(bundle.validation)) == (30, 10)
    assert len(bundle.test) == 40
    assert bundle.eval_split is bundle.test
    assert bundle.eval_split_name == "test"
    for split in (bundle.train, bundle.validation, bundle.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert 0.0 <= split.x.min() and split.x.max() <= 1.0
    assert bundle.unit_range and bundle.num_classes == 10
    assert bundle.preprocessing == Preprocessing(offset=0.0, scale=255.0)
    # Pixels can take any value from 0 to 255.
    assert bundle.data_range == (0.0, 1.0)


def test_tfds_mock_cifar10_is_rgb(tmp_path, online):
    with tfds.testing.mock_data(num_examples=10):
        bundle = load(DataConfig(dataset="cifar10", data_dir=str(tmp_path)))
    assert bundle.input_shape == (32, 32, 3)
    assert bundle.train.x.shape == (9, 32, 32, 3)


def test_tfds_validation_fraction_zero_validates_on_test(tmp_path, online):
    with tfds.testing.mock_data(num_examples=12):
        bundle = load(DataConfig(dataset="mnist", data_dir=str(tmp_path),
                                 validation_fraction=0.0))
    assert len(bundle.train) == 12
    np.testing.assert_array_equal(bundle.validation.x, bundle.test.x)


def test_tfds_train_classes_filters_train_and_validation_only(
        tmp_path, online):
    with tfds.testing.mock_data(num_examples=200):
        bundle = load(DataConfig(dataset="mnist", data_dir=str(tmp_path),
                                 train_classes=(1, 3)))
    assert set(bundle.train.y) == {1, 3}
    assert set(bundle.validation.y) <= {1, 3}
    assert len(set(bundle.test.y)) > 2  # the test split stays whole
    assert bundle.num_classes == 10


def test_tfds_train_class_absent(tmp_path, online):
    with tfds.testing.mock_data(num_examples=20):
        message = data_error("mnist", data_dir=str(tmp_path),
                             train_classes=(42,))
    assert "class 42 is absent from the training data of mnist" in message


def test_unknown_dataset():
    message = data_error("foo")
    assert message == (
        "unknown dataset 'foo': not an existing file or folder, and not a "
        "TFDS dataset (e.g. mnist, fashion_mnist, cifar10)")


def test_tfds_dataset_without_image_feature(tmp_path):
    message = data_error("iris", data_dir=str(tmp_path))
    assert "TFDS dataset 'iris' has no 'image' feature" in message


def test_label_column_with_tfds_dataset(tmp_path):
    message = data_error("mnist", data_dir=str(tmp_path),
                         label_column="label")
    assert "--label_column=label applies to CSV files only" in message


def test_not_prepared_and_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_reader, "network_reachable", lambda: False)
    message = data_error("mnist", data_dir=str(tmp_path))
    assert message == (
        f"dataset 'mnist' is not prepared in {tmp_path} and cannot be "
        "downloaded (no network): pass --data_dir=DIR holding prepared TFDS "
        "data, or set TFDS_DATA_DIR")


def test_network_probe_gives_up_within_its_timeout():
    start = time.monotonic()
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): nothing there ever answers.
    assert not tfds_reader.network_reachable("http://192.0.2.1", 0.5)
    assert time.monotonic() - start < 2.0


def test_real_offline_load_returns_within_seconds(tmp_path):
    start = time.monotonic()
    if tfds_reader.network_reachable():
        pytest.skip("the network is up: loading would really download MNIST")
    message = data_error("mnist", data_dir=str(tmp_path))
    assert "cannot be downloaded (no network)" in message
    assert time.monotonic() - start < 10.0


# The real loading code against the prepared MNIST.


@pytest.fixture(scope="module")
def mnist():
    if not os.path.isdir(os.path.join(SHARED_TFDS, "mnist")):
        pytest.skip(f"prepared MNIST not found at {SHARED_TFDS}")
    return load(DataConfig(dataset="mnist", data_dir=SHARED_TFDS,
                           validation_fraction=0.1))


def test_prepared_mnist_splits(mnist):
    assert (len(mnist.train), len(mnist.validation), len(mnist.test)) == (
        54000, 6000, 10000)
    assert mnist.input_shape == (28, 28, 1)
    assert mnist.train.x.shape == (54000, 28, 28, 1)
    assert mnist.data_range == (0.0, 1.0) and mnist.unit_range
    assert mnist.num_classes == 10
    for split in (mnist.train, mnist.validation, mnist.test):
        assert split.x.dtype == np.float32
        assert 0.0 <= split.x.min() and split.x.max() <= 1.0
        assert set(np.unique(split.y)) == set(range(10))
    # MNIST's mean pixel is about 0.13: pixels really were divided by 255.
    assert 0.12 < mnist.train.x.mean() < 0.14


# CSV files.

CSV_ROWS = 20


@pytest.fixture
def table(tmp_path):
    """A CSV whose `id` column tells the rows apart after shuffling."""
    rng = np.random.default_rng(7)
    lines = ["id,temp,const,kind"]
    for i in range(CSV_ROWS):
        kind = ("dog", "cat", "bird")[i % 3]
        lines.append(f"{i},{rng.normal(100 + 10 * i, 5):.4f},3.5,{kind}")
    return write_csv(tmp_path / "data.csv", "\n".join(lines) + "\n")


def test_csv_standardizes_with_training_statistics(table):
    bundle = load(DataConfig(dataset=table, label_column="kind",
                             validation_fraction=0.25))
    assert (bundle.name, bundle.kind) == ("data.csv", "tabular")
    assert bundle.feature_names == ("id", "temp", "const")
    assert bundle.input_shape == (3,)
    assert (len(bundle.train), len(bundle.validation)) == (15, 5)
    assert bundle.test is None and bundle.eval_split_name == "validation"
    assert bundle.eval_split is bundle.validation
    assert not bundle.unit_range
    train = bundle.train.x
    np.testing.assert_allclose(train[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train[:, :2].std(axis=0), 1, atol=1e-5)
    # The constant column keeps scale 1 and maps to 0.
    assert bundle.preprocessing.scale[2] == 1
    np.testing.assert_array_equal(train[:, 2], 0)
    # Statistics come from the training rows, not the whole file.
    raw = np.loadtxt(table, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    train_raw = bundle.preprocessing.invert(train)
    ids = np.round(train_raw[:, 0]).astype(int)
    np.testing.assert_allclose(train_raw, raw[ids], rtol=1e-5)
    np.testing.assert_allclose(bundle.preprocessing.offset,
                               raw[ids].mean(axis=0), rtol=1e-5)
    assert not np.allclose(bundle.preprocessing.offset[:2],
                           raw.mean(axis=0)[:2], rtol=1e-3)


def test_csv_string_labels_are_numbered_in_sorted_order(table):
    bundle = load(DataConfig(dataset=table, label_column="kind"))
    assert bundle.num_classes == 3
    for split in (bundle.train, bundle.validation):
        ids = np.round(bundle.preprocessing.invert(split.x)[:, 0])
        kinds = np.array(["dog", "cat", "bird"])[ids.astype(int) % 3]
        expected = np.searchsorted(["bird", "cat", "dog"], kinds)
        np.testing.assert_array_equal(split.y, expected)


def test_csv_numeric_label_column(tmp_path):
    path = write_csv(tmp_path / "n.csv", "a,label,b\n" + "".join(
        f"{i},{i % 4},{i * i}\n" for i in range(8)))
    bundle = load(DataConfig(dataset=path, label_column="label"))
    assert bundle.feature_names == ("a", "b")
    assert bundle.num_classes == 4
    ids = np.round(bundle.preprocessing.invert(bundle.train.x)[:, 0])
    np.testing.assert_array_equal(bundle.train.y, ids.astype(int) % 4)


def test_csv_without_label_column_has_no_labels(table):
    path = table.replace("data.csv", "numbers.csv")
    with open(table) as src, open(path, "w") as dst:
        dst.writelines(line.rsplit(",", 1)[0] + "\n" for line in src)
    bundle = load(DataConfig(dataset=path))
    assert bundle.train.y is None and bundle.num_classes == 0


def test_same_seed_same_split_other_seed_other_split(table):
    config = DataConfig(dataset=table, label_column="kind")
    first, again = load(config, seed=3), load(config, seed=3)
    np.testing.assert_array_equal(first.train.x, again.train.x)
    np.testing.assert_array_equal(first.validation.y, again.validation.y)
    other = load(config, seed=4)
    assert not np.array_equal(first.validation.x, other.validation.x)


def test_csv_missing_label_column(table):
    message = data_error(table, label_column="species")
    assert message == ("data.csv: no column 'species' for --label_column; "
                       "the columns are: id, temp, const, kind")


def test_csv_empty(tmp_path):
    message = data_error(write_csv(tmp_path / "e.csv", ""))
    assert message.startswith("e.csv is empty")


def test_csv_header_only(tmp_path):
    message = data_error(write_csv(tmp_path / "h.csv", "a,b\n"))
    assert message.startswith("h.csv has a header but no data rows")


def test_csv_non_numeric_cell(tmp_path):
    path = write_csv(tmp_path / "data.csv", "id,temp\n1,2\n2,abc\n")
    assert data_error(path) == (
        "data.csv: row 3, column 'temp': 'abc' is not a number")


def test_csv_empty_cell(tmp_path):
    path = write_csv(tmp_path / "data.csv", "id,temp\n1,2\n\n3,\n")
    # The blank line still counts: the user sees the bad cell on line 4.
    assert data_error(path).startswith(
        "data.csv: row 4, column 'temp' is empty")


def test_csv_ragged_row(tmp_path):
    path = write_csv(tmp_path / "data.csv", "a,b,c\n1,2,3\n4,5\n")
    assert data_error(path) == (
        "data.csv: row 3 has 2 values but the header has 3 columns")


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_csv_non_finite_cell(tmp_path, value):
    path = write_csv(tmp_path / "data.csv", f"a,b\n1,2\n3,4\n5,{value}\n")
    assert data_error(path).startswith(
        f"data.csv: row 4, column 'b': '{value}' is not a finite number")


def test_csv_single_row_is_too_few_to_split(tmp_path):
    path = write_csv(tmp_path / "one.csv", "a,b\n1,2\n")
    message = data_error(path)
    assert "1 training example(s) are too few to hold out" in message
    assert "need at least 2" in message


def test_no_test_split_and_zero_validation_fraction(table):
    message = data_error(table, label_column="kind",
                         validation_fraction=0.0)
    assert "--validation_fraction=0 but data.csv has no test split" in message


def test_train_classes_without_labels(tmp_path):
    path = write_csv(tmp_path / "data.csv", "a,b\n1,2\n3,4\n5,6\n")
    message = data_error(path, train_classes=(0,))
    assert message.startswith("--train_classes needs labels, but data.csv "
                              "has none")


def test_csv_train_classes_keep_only_those_labels(table):
    bundle = load(DataConfig(dataset=table, label_column="kind",
                             train_classes=(0, 2)))
    assert set(bundle.train.y) | set(bundle.validation.y) == {0, 2}
    assert len(bundle.train) + len(bundle.validation) == 13


# NumPy files.


def test_npz_uint8_images_are_pixels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 8, 6), dtype=np.uint8)
    y = np.arange(30) % 5
    np.savez(tmp_path / "imgs.npz", x=x, y=y)
    bundle = load(DataConfig(dataset=str(tmp_path / "imgs.npz")))
    assert (bundle.kind, bundle.input_shape) == ("image", (8, 6, 1))
    assert bundle.unit_range and bundle.num_classes == 5
    assert bundle.preprocessing == Preprocessing(offset=0.0, scale=255.0)
    assert len(bundle.train) == 27 and len(bundle.validation) == 3
    raw = np.round(bundle.preprocessing.invert(bundle.train.x))
    # Every training image is one of the file's, with its own label.
    for image, label in zip(raw[..., 0], bundle.train.y):
        index = int(np.flatnonzero((x == image).all(axis=(1, 2)))[0])
        assert y[index] == label


def test_npz_single_array_in_unit_range_is_kept(tmp_path):
    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    np.savez(tmp_path / "u.npz", features=x)
    bundle = load(DataConfig(dataset=str(tmp_path / "u.npz")))
    assert bundle.unit_range and bundle.kind == "tabular"
    assert bundle.preprocessing == Preprocessing(offset=0.0, scale=1.0)
    assert bundle.train.y is None
    assert set(map(tuple, bundle.train.x)) <= set(map(tuple, x))


def test_npy_floats_outside_unit_range_are_standardized(tmp_path):
    x = np.random.default_rng(0).normal(50, 10, (40, 3))
    np.save(tmp_path / "f.npy", x)
    bundle = load(DataConfig(dataset=str(tmp_path / "f.npy")))
    assert not bundle.unit_range and bundle.input_shape == (3,)
    assert bundle.preprocessing.offset.shape == (3,)
    np.testing.assert_allclose(bundle.train.x.mean(axis=0), 0, atol=1e-5)
    assert bundle.data_range[0] < 0 < bundle.data_range[1]


def test_npz_string_labels(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.zeros((4, 2)),
             y=np.array(["b", "a", "c", "a"]))
    bundle = load(DataConfig(dataset=str(tmp_path / "s.npz"),
                             validation_fraction=0.25))
    assert bundle.num_classes == 3
    assert set(bundle.train.y) | set(bundle.validation.y) == {0, 1, 2}


def test_empty_array(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((0, 3)))
    message = data_error(tmp_path / "z.npy")
    assert message.startswith("z.npy: array is empty (shape (0, 3))")


def test_nan_in_array_names_the_index(tmp_path):
    x = np.ones((5, 3))
    x[3, 1] = np.nan
    np.savez(tmp_path / "d.npz", x=x)
    assert data_error(tmp_path / "d.npz").startswith(
        "d.npz: x[3, 1] is nan")


def test_inf_in_npy(tmp_path):
    x = np.ones(6)
    x[4] = -np.inf
    np.save(tmp_path / "v.npy", x)
    assert data_error(tmp_path / "v.npy").startswith(
        "v.npy: array[4] is -inf")


def test_npz_without_x(tmp_path):
    np.savez(tmp_path / "m.npz", a=np.ones(3), b=np.ones(3))
    assert data_error(tmp_path / "m.npz") == (
        "m.npz holds arrays a, b but none named 'x': save features as 'x' "
        "(and labels as 'y')")


def test_npz_label_count_mismatch(tmp_path):
    np.savez(tmp_path / "l.npz", x=np.ones((5, 2)), y=np.arange(4))
    assert data_error(tmp_path / "l.npz").startswith(
        "l.npz: y has shape (4,) but x holds 5 examples")


def test_corrupt_npy(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    message = data_error(tmp_path / "bad.npy")
    assert message.startswith("cannot read '")
    assert "bad.npy' as a NumPy .npy array" in message


def test_unsupported_extension(tmp_path):
    (tmp_path / "data.txt").write_text("1 2 3\n")
    message = data_error(tmp_path / "data.txt")
    assert message.startswith("unsupported file extension '.txt' for '")
    assert "use .npz, .npy, .csv, or a folder of PNG/JPEG images" in message


# Image folders.


def test_image_folder_with_class_subfolders(tmp_path):
    root = tmp_path / "digits"
    for label, name in enumerate(["one", "two", "zero"]):
        for i in range(4):
            write_png(root / name / f"{i}.png",
                      np.full((5, 7), 10 * label + i))
    bundle = load(DataConfig(dataset=str(root), validation_fraction=0.25))
    assert (bundle.name, bundle.kind) == ("digits", "image")
    assert bundle.input_shape == (5, 7, 1)
    assert bundle.num_classes == 3 and bundle.unit_range
    for split in (bundle.train, bundle.validation):
        pixel = np.round(split.x[:, 0, 0, 0] * 255).astype(int)
        # Sorted subfolder names: one -> 0, two -> 1, zero -> 2.
        np.testing.assert_array_equal(split.y, pixel // 10)


def test_image_folder_without_subfolders_has_no_labels(tmp_path):
    for i in range(3):
        write_png(tmp_path / "flat" / f"{i}.png", np.full((4, 4), i))
    bundle = load(DataConfig(dataset=str(tmp_path / "flat")))
    assert bundle.train.y is None and bundle.num_classes == 0


def test_rgb_and_rgba_images_become_rgb(tmp_path):
    root = tmp_path / "colour"
    write_png(root / "a.png", np.full((3, 2, 3), [255, 0, 51]))
    write_png(root / "b.png", np.full((3, 2, 4), [0, 255, 0, 7]))
    write_png(root / "c.png", np.full((3, 2), 255))  # grey joins as RGB
    bundle = load(DataConfig(dataset=str(root), validation_fraction=0.34))
    assert bundle.input_shape == (3, 2, 3)
    x = np.concatenate([bundle.train.x, bundle.validation.x])
    colours = {tuple(np.round(img[0, 0] * 255).astype(int)) for img in x}
    assert colours == {(255, 0, 51), (0, 255, 0), (255, 255, 255)}


def test_jpeg_images(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(4):
        image = Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8))
        image.save(root / f"{i}.jpg")
    bundle = load(DataConfig(dataset=str(root), validation_fraction=0.25))
    assert bundle.input_shape == (8, 8, 3)
    x = np.concatenate([bundle.train.x, bundle.validation.x])
    means = sorted(np.round(x.mean(axis=(1, 2, 3)) * 255))
    np.testing.assert_allclose(means, [0, 40, 80, 120], atol=2)


def test_empty_image_folder(tmp_path):
    (tmp_path / "nothing").mkdir()
    assert data_error(tmp_path / "nothing").startswith(
        "nothing is an empty folder")


def test_images_of_different_sizes(tmp_path):
    write_png(tmp_path / "mixed" / "a.png", np.zeros((4, 4)))
    write_png(tmp_path / "mixed" / "b.png", np.zeros((5, 3)))
    assert data_error(tmp_path / "mixed") == (
        "mixed: images must all share one size, but 'a.png' is 4x4 (width x "
        "height) and 'b.png' is 3x5 (width x height): pass "
        "--image_size=H,W to resize them")


def test_image_that_cannot_be_decoded(tmp_path):
    write_png(tmp_path / "pics" / "good.png", np.zeros((4, 4)))
    (tmp_path / "pics" / "broken.png").write_bytes(b"\x89PNG not really")
    message = data_error(tmp_path / "pics")
    assert message.startswith("cannot decode image '")
    assert "broken.png" in message


def test_non_image_file_in_folder(tmp_path):
    write_png(tmp_path / "pics" / "a.png", np.zeros((4, 4)))
    (tmp_path / "pics" / "notes.txt").write_text("hello")
    assert data_error(tmp_path / "pics").startswith(
        "pics: 'notes.txt' is not a PNG or JPEG image")


def test_files_next_to_class_subfolders(tmp_path):
    write_png(tmp_path / "pics" / "a.png", np.zeros((4, 4)))
    write_png(tmp_path / "pics" / "cat" / "b.png", np.zeros((4, 4)))
    assert data_error(tmp_path / "pics").startswith(
        "pics mixes files ('a.png') and class subfolders ('cat')")


def test_empty_class_subfolder(tmp_path):
    write_png(tmp_path / "pics" / "cat" / "b.png", np.zeros((4, 4)))
    (tmp_path / "pics" / "dog").mkdir()
    assert data_error(tmp_path / "pics").startswith(
        "pics: class folder 'dog' holds no images")


def test_split_take_keeps_labels_aligned():
    split = Split(np.arange(6).reshape(3, 2), np.array([5, 6, 7]))
    part = split.take(np.array([True, False, True]))
    np.testing.assert_array_equal(part.y, [5, 7])
    np.testing.assert_array_equal(part.x[:, 0], [0, 4])


def test_numeric_text_labels_keep_their_value(tmp_path):
    # "10.0" sorts before "2.0" as text; as numbers it must not.
    path = write_csv(tmp_path / "f.csv", "a,label\n" + "".join(
        f"{i},{float(i % 11)}\n" for i in range(22)))
    bundle = load(DataConfig(dataset=path, label_column="label"))
    assert bundle.num_classes == 11
    ids = np.round(bundle.preprocessing.invert(bundle.train.x)[:, 0])
    np.testing.assert_array_equal(bundle.train.y, ids.astype(int) % 11)


def test_negative_labels_are_numbered_in_sorted_order(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(6.0), y=[1, -1, 1, 1, -1, 1])
    bundle = load(DataConfig(dataset=str(tmp_path / "a.npz"),
                             validation_fraction=0.2))
    assert bundle.num_classes == 2
    ids = np.round(bundle.preprocessing.invert(bundle.train.x)[:, 0])
    expected = (np.array([1, -1, 1, 1, -1, 1])[ids.astype(int)] + 1) // 2
    np.testing.assert_array_equal(bundle.train.y, expected)


def test_fractional_labels(tmp_path):
    path = write_csv(tmp_path / "r.csv", "a,price\n1,2.5\n2,3\n")
    assert data_error(path, label_column="price") == (
        "r.csv: column 'price': label 2.5 at row 2 is not a whole number; "
        "labels must be whole numbers or names")


def test_empty_label_cell(tmp_path):
    path = write_csv(tmp_path / "e.csv", "a,kind\n1,cat\n2,\n")
    assert data_error(path, label_column="kind") == (
        "e.csv: column 'kind': label at row 3 is empty")


def test_missing_file_path_is_named_as_missing(tmp_path):
    missing = str(tmp_path / "sensors.csv")
    with pytest.raises(DataError, match="no such file or folder") as info:
        load(DataConfig(dataset=missing))
    assert "\n" not in str(info.value) and missing in str(info.value)
