"""The streaming data path (`kerasae.data.streaming` and its readers) on
small generated folders and files: the same preprocessing as the in-memory
path, stable validation splits, resizing, TFDS under `mock_data`, CSV and
`.npy` streaming, the path choice and what a streamed run records."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.config import validate
from kerasae.data import image_stream
from kerasae.data import images
from kerasae.data import load
from kerasae.data import stream_loader
from kerasae.data import streaming
from kerasae.data import table_stream
from kerasae.data import tfds_reader
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.evaluation import metrics as kae_metrics
from kerasae.evaluation import pca

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TFDS = os.path.abspath(os.path.join(REPO, "..", "shared", "tfds"))


def make_folder(path, count, size=(6, 5), seed=0, classes=0, mode="RGB"):
    """`count` random PNG images (height, width `size`) under `path`, in
    `classes` class subfolders (0: directly in the folder)."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    for i in range(count):
        folder = path / f"class{i % classes}" if classes else path
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size + (channels,), dtype=np.uint8)
        Image.fromarray(pixels if channels == 3 else pixels[..., 0],
                        mode).save(folder / f"img{i:03d}.png")
    return str(path)


def all_batches(split, batch_size=7):
    xs, ys = [], []
    for x, y in split.dataset(batch_size, labels=True).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def stream_bundle(dataset, **kwargs):
    return load(DataConfig(dataset=str(dataset), data_path="stream",
                           **kwargs))


@pytest.fixture
def online(monkeypatch):
    """Pretend the network is up: under mock_data, "downloading" is free."""
    monkeypatch.setattr(tfds_reader, "network_reachable", lambda: True)


# Both paths give the same model-space pixels.


@pytest.mark.parametrize("image_size,crop", [((), False), ((4, 4), False),
                                             ((3, 6), True)])
def test_both_paths_apply_the_same_preprocessing(tmp_path, image_size,
                                                 crop):
    folder = make_folder(tmp_path / "pics", 12)
    raw = images.read_image_folder(folder, image_size, crop).train.x
    listing = image_stream.FolderListing(folder, image_size, crop)
    split = listing.split(np.arange(len(listing.files)), "train")
    split.preprocessing = load(DataConfig(
        dataset=folder, data_path="memory", image_size=image_size,
        crop=crop)).preprocessing
    streamed, _ = all_batches(split)
    np.testing.assert_array_equal(streamed, split.preprocessing.apply(raw))
    expected = image_size or (6, 5)
    assert streamed.shape == (12,) + tuple(expected) + (3,)


def test_without_resize_the_stream_decodes_what_pil_decodes(tmp_path):
    folder = make_folder(tmp_path / "gray", 5, mode="L")
    memory = load(DataConfig(dataset=folder, data_path="memory",
                             validation_fraction=0.2))
    stream = stream_bundle(folder, validation_fraction=0.2)
    assert memory.input_shape == stream.input_shape == (6, 5, 1)
    listing = image_stream.FolderListing(folder)
    everything = listing.split(np.arange(5), "all")
    everything.preprocessing = stream.preprocessing
    pil = np.stack([np.asarray(Image.open(os.path.join(folder, f)))
                    for f in listing.files])[..., None]
    np.testing.assert_array_equal(
        all_batches(everything)[0], stream.preprocessing.apply(pil))


def test_resize_crops_the_centre(tmp_path):
    # A 4x8 image whose left and right quarters are white: the centred
    # 4x4 window is black.
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[:, :2] = pixels[:, 6:] = 255
    (tmp_path / "wide").mkdir()
    Image.fromarray(pixels).save(tmp_path / "wide" / "a.png")
    Image.fromarray(pixels).save(tmp_path / "wide" / "b.png")
    cropped = images.read_image_folder(str(tmp_path / "wide"), (2, 2),
                                       True).train.x
    squeezed = images.read_image_folder(str(tmp_path / "wide"), (2, 2),
                                        False).train.x
    assert cropped.max() == 0
    assert squeezed.min() > 0


# Validation splits.


def test_stream_validation_split_is_stable_and_by_file_name(tmp_path):
    folder = make_folder(tmp_path / "pics", 40, classes=2)
    first = stream_bundle(folder, validation_fraction=0.25)
    again = stream_bundle(folder, validation_fraction=0.25)
    assert (len(first.train), len(first.validation)) == (30, 10)
    np.testing.assert_array_equal(all_batches(first.validation)[0],
                                  all_batches(again.validation)[0])
    # The held-out files depend on their names only.
    listing = image_stream.FolderListing(folder)
    held = image_stream.hash_held_out(listing.files, 0.25)
    reversed_held = image_stream.hash_held_out(listing.files[::-1], 0.25)
    np.testing.assert_array_equal(held, reversed_held[::-1])
    assert held.sum() == 10


def test_memory_validation_split_is_stable_across_runs(tmp_path):
    folder = make_folder(tmp_path / "pics", 20)
    runs = [load(DataConfig(dataset=folder, data_path="memory"), seed=3)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].validation.x,
                                  runs[1].validation.x)


def test_row_hash_holds_out_about_the_fraction():
    held = table_stream.row_held_out(np.arange(100_000), 0.1)
    assert 0.095 < held.mean() < 0.105
    np.testing.assert_array_equal(
        held[:50], table_stream.row_held_out(np.arange(50), 0.1))


# Mixed sizes.


def test_mixed_sizes_are_refused_without_image_size(tmp_path):
    make_folder(tmp_path / "mixed", 3, size=(4, 4))
    make_folder(tmp_path / "mixed", 1, size=(5, 3), seed=1)  # img000
    message = "images must all share one size"
    for path in ("memory", "stream"):
        with pytest.raises(DataError, match=message) as info:
            load(DataConfig(dataset=str(tmp_path / "mixed"),
                            data_path=path))
        assert str(info.value).endswith(": resize them first")


def test_mixed_size_folder_trains_with_image_size(tmp_path):
    folder = tmp_path / "mixed"
    make_folder(folder, 8, size=(6, 6))
    Image.fromarray(np.zeros((9, 4, 3), np.uint8)).save(folder / "odd.png")
    config = Config(
        model=ModelConfig(name="ae", arch="conv", hidden_units=(4,),
                          latent_dim=2),
        data=DataConfig(dataset=str(folder), data_path="stream",
                        image_size=(4, 4), validation_fraction=0.25),
        train=TrainConfig(epochs=1, batch_size=4))
    workdir = str(tmp_path / "run")
    metrics = training.train(config, workdir, verbose=0)
    assert np.isfinite(metrics["validation"]["loss"])
    assert metrics["data_path"] == "stream"
    recorded = json.load(open(os.path.join(workdir, "config.json")))
    assert recorded["data"]["data_path"] == "stream"
    assert recorded["data"]["image_size"] == [4, 4]
    assert recorded["model"]["input_shape"] == [4, 4, 3]


# Choosing the path.


def test_auto_streams_above_the_limit_and_records_the_path(tmp_path):
    folder = make_folder(tmp_path / "pics", 10)
    small = DataConfig(dataset=folder)
    assert stream_loader.data_path(small) == "memory"
    # 10 images of 6x5x3 float32 are 3,600 bytes.
    tight = dataclasses.replace(small, in_memory_limit_mb=0.003)
    assert stream_loader.data_path(tight) == "stream"
    assert streaming.is_streaming(load(tight))
    assert not streaming.is_streaming(load(small))
    assert streaming.choose_path("auto", None, 1) == "memory"
    assert streaming.choose_path("memory", 10**9, 1) == "memory"


def test_stream_refuses_npz(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.zeros((4, 3)))
    with pytest.raises(DataError) as info:
        stream_bundle(path)
    assert str(info.value) == (
        f"--data_path=stream cannot stream {path}: a .npz archive is read "
        "whole; save the features with np.save as a .npy file to stream "
        "them")


@pytest.mark.parametrize("data,message", [
    (DataConfig(image_size=(4,)), "--image_size=4: give HEIGHT,WIDTH"),
    (DataConfig(image_size=(0, 4)), "--image_size=0,4: give HEIGHT,WIDTH"),
    (DataConfig(crop=True), "--crop needs --image_size=HEIGHT,WIDTH"),
    (DataConfig(data_path="disk"), "--data_path='disk' is not one of"),
    (DataConfig(in_memory_limit_mb=0), "--in_memory_limit_mb=0: must be"),
    (DataConfig(sample_size=0), "--sample_size=0: must be"),
])
def test_bad_streaming_options(data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        validate(Config(data=data))


# TFDS.


def test_tfds_stream_under_mock_data(tmp_path, online):
    with tfds.testing.mock_data(num_examples=20):
        bundle = stream_bundle("mnist", data_dir=str(tmp_path),
                               train_classes=(1, 3))
        assert bundle.input_shape == (28, 28, 1)
        assert bundle.num_classes == 10 and bundle.unit_range
        x, y = all_batches(bundle.train)
        assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
        assert set(np.unique(y)) <= {1, 3}
        _, test_y = all_batches(bundle.test)
        assert len(test_y) == 20  # the test split is not filtered
        resized = stream_bundle("mnist", data_dir=str(tmp_path),
                                image_size=(8, 10))
        assert all_batches(resized.validation)[0].shape[1:] == (8, 10, 1)


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_TFDS, "mnist")),
                    reason="prepared MNIST not available")
def test_tfds_stream_holds_out_the_end_of_train_by_slicing():
    bundle = stream_bundle("mnist", data_dir=SHARED_TFDS)
    assert (len(bundle.train), len(bundle.validation),
            len(bundle.test)) == (54_000, 6_000, 10_000)
    builder = tfds.builder("mnist", data_dir=SHARED_TFDS)
    expected = next(iter(tfds.as_numpy(builder.as_dataset(
        split="train[54000:54008]", batch_size=8))))
    x, y = next(bundle.validation.dataset(8, labels=True)
                .as_numpy_iterator())
    np.testing.assert_array_equal(x, expected["image"] / np.float32(255))
    np.testing.assert_array_equal(y, expected["label"])


# CSV and .npy.


def write_table(path, rows=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal([1.0, -5.0, 100.0], [1.0, 2.0, 30.0], (rows, 3))
    kinds = rng.choice(["dog", "cat"], rows)
    with open(path, "w") as f:
        f.write("a,b,c,kind\n")
        for row, kind in zip(x, kinds):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{kind}\n")
    return str(path)


def test_csv_stream_standardizes_with_one_pass_statistics(tmp_path):
    path = write_table(tmp_path / "t.csv")
    bundle = stream_bundle(path, label_column="kind")
    memory = load(DataConfig(dataset=path, label_column="kind",
                             data_path="memory"))
    x, y = all_batches(bundle.train)
    # The statistics of exactly the training rows (the in-memory rule).
    table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    rows = table[~table_stream.row_held_out(np.arange(600), 0.1)]
    assert len(x) == len(rows)
    np.testing.assert_allclose(bundle.preprocessing.offset,
                               rows.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(bundle.preprocessing.scale,
                               rows.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    # ... and labels numbered as in memory (names in sorted order).
    assert bundle.num_classes == memory.num_classes == 2
    assert set(np.unique(y)) == {0, 1}
    assert len(bundle.train) + len(bundle.validation) == 600
    assert bundle.feature_names == ("a", "b", "c")


@pytest.mark.parametrize("text,message", [
    ("a,b\n1,2\n3,x\n", "t.csv: row 3, column 'b': 'x' is not a number"),
    ("a,b\n1,2\n\n3,\n", "t.csv: row 4, column 'b' is empty; fill in a "
     "number"),
    ("a,b\n1,2\n3,4,5\n", "t.csv: row 3 has 3 values but the header has "
     "2 columns"),
    ("a,b\n1,2\n3,inf\n", "t.csv: row 3, column 'b': 'inf' is not a finite "
     "number"),
])
def test_csv_stream_keeps_the_in_memory_messages(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    for path in ("memory", "stream"):
        with pytest.raises(DataError) as info:
            load(DataConfig(dataset=str(tmp_path / "t.csv"),
                            data_path=path))
        assert str(info.value).startswith(message), path


def test_csv_chunks_agree_with_one_chunk(tmp_path, monkeypatch):
    path = write_table(tmp_path / "t.csv", rows=300)
    whole = stream_bundle(path, label_column="kind")
    monkeypatch.setattr(table_stream, "CHUNK_ROWS", 7)
    chunked = stream_bundle(path, label_column="kind")
    np.testing.assert_allclose(whole.preprocessing.offset,
                               chunked.preprocessing.offset, rtol=1e-6)
    np.testing.assert_array_equal(all_batches(whole.validation)[0],
                                  all_batches(chunked.validation)[0])


def test_npy_streams_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (300, 5, 4), dtype=np.uint8)
    np.save(tmp_path / "p.npy", pixels)
    bundle = stream_bundle(tmp_path / "p.npy")
    assert bundle.input_shape == (5, 4, 1) and bundle.unit_range
    x, _ = all_batches(bundle.train)
    held = table_stream.row_held_out(np.arange(300), 0.1)
    np.testing.assert_array_equal(
        np.sort(x.reshape(len(x), -1), axis=0),
        np.sort(pixels[~held].reshape(len(x), -1) / np.float32(255), axis=0))
    bad = rng.normal(size=(50, 3))
    bad[7, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(DataError, match=r"bad.npy: array\[7, 2\] is nan"):
        stream_bundle(tmp_path / "bad.npy")


# Sharding, sampling and evaluation on samples.


def test_worker_shards_partition_the_training_files(tmp_path):
    folder = make_folder(tmp_path / "pics", 20)
    bundle = stream_bundle(folder)
    shards = [bundle.train.dataset(100, shard=(2, i)) for i in range(2)]
    parts = [next(iter(ds)).numpy().reshape(-1, 90) for ds in shards]
    assert len(parts[0]) + len(parts[1]) == len(bundle.train)
    everything = {row.tobytes() for row in all_batches(bundle.train)[0]
                  .reshape(-1, 90)}
    assert {row.tobytes() for part in parts for row in part} == everything


def test_worker_shard_numbers_chief_then_workers():
    class Resolver:
        task_type, task_id = "worker", 1

        def cluster_spec(self):
            class Spec:
                def as_dict(self):
                    return {"chief": ["a"], "worker": ["b", "c"]}
            return Spec()

    class Strategy:
        cluster_resolver = Resolver()

    assert streaming.worker_shard(Strategy()) == (3, 2)
    assert streaming.worker_shard(object()) is None


def test_sample_bundle_is_bounded_and_covers_classes(tmp_path):
    folder = make_folder(tmp_path / "pics", 60, classes=3)
    bundle = stream_bundle(folder)
    sampled = streaming.sample_bundle(bundle, 12)
    assert len(sampled.train) == 12
    assert streaming.sample_size(sampled) == 12
    assert set(np.unique(sampled.train.y)) == {0, 1, 2}
    again = streaming.sample_bundle(bundle, 12)
    np.testing.assert_array_equal(sampled.train.x, again.train.x)


def test_randomized_pca_matches_the_exact_basis(monkeypatch):
    rng = np.random.default_rng(0)
    # Rank-6 data plus a little noise.
    train = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 50)) \
        + 0.01 * rng.normal(size=(300, 50))
    test = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 50))
    exact = kae_metrics.pca_reconstruction_mse(train, test, 4)
    monkeypatch.setattr(pca, "EXACT_MAX_FEATURES", 10)
    randomized = kae_metrics.pca_reconstruction_mse(train, test, 4)
    np.testing.assert_allclose(randomized, exact, rtol=1e-3)


def test_evaluate_run_on_a_streamed_run_states_its_sample(tmp_path):
    folder = make_folder(tmp_path / "pics", 24, size=(4, 4))
    config = Config(
        model=ModelConfig(name="ae", hidden_units=(8,), latent_dim=2),
        data=DataConfig(dataset=folder, data_path="stream",
                        sample_size=10),
        train=TrainConfig(epochs=1, batch_size=8))
    workdir = str(tmp_path / "run")
    training.train(config, workdir, verbose=0)
    result = kae_metrics.evaluate_run(
        workdir, kae_metrics.EvalOptions(plots=False, iwae_k=0))
    assert result["evaluation"]["sample_size"] == 10
    assert result["evaluation"]["num_examples"] <= 10
    assert result["anomaly"]["sample_size"] == 10
    assert np.isfinite(result["evaluation"]["pca_mse"])


def test_image_size_is_refused_for_files(tmp_path):
    path = write_table(tmp_path / "t.csv")
    for data_path in ("memory", "stream"):
        with pytest.raises(DataError) as info:
            load(DataConfig(dataset=path, image_size=(4, 4),
                            data_path=data_path))
        assert str(info.value) == (
            "--image_size applies to image folders and TFDS datasets, not "
            "to t.csv: resize the arrays first")


def test_tfds_in_memory_resizes_like_the_stream(tmp_path, online):
    with tfds.testing.mock_data(num_examples=12):
        kwargs = dict(dataset="mnist", data_dir=str(tmp_path),
                      image_size=(10, 6), crop=True,
                      validation_fraction=0)
        memory = load(DataConfig(data_path="memory", **kwargs))
        stream = load(DataConfig(data_path="stream", **kwargs))
        assert memory.input_shape == stream.input_shape == (10, 6, 1)
        # mock_data yields the same examples in every split, in order.
        np.testing.assert_array_equal(all_batches(stream.test)[0],
                                      memory.test.x)


def test_a_csv_counts_what_the_in_memory_reader_holds(tmp_path):
    path = write_table(tmp_path / "t.csv")
    size_mb = os.path.getsize(path) / 2**20
    assert table_stream.csv_megabytes(path) == pytest.approx(
        table_stream.CSV_TEXT_FACTOR * size_mb)
    limit = DataConfig(dataset=path, in_memory_limit_mb=20 * size_mb)
    assert stream_loader.data_path(limit) == "stream"
