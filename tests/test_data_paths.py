"""Every source kind on both data paths, in memory and streamed: the same
validation keys, the same preprocessing, every training example once an
epoch, repeatable orders, every option working on both paths or refused
before training, exact resume, sharding and samples. Sources are small
generated folders and files, and TFDS under `tfds.testing.mock_data`."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image
from training_callbacks import StopAfter

from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.config import validate
from kerasae.data import load
from kerasae.data import loader
from kerasae.data import tables
from kerasae.data import tfds_reader
from kerasae.errors import ConfigError
from kerasae.errors import DataError
from kerasae.errors import KerasaeError
from kerasae.training import distribute

PATHS = ("memory", "stream")


def make_folder(path, count, size=(4, 4), seed=0, classes=2, mode="L"):
    """`count` random PNG images under `path`, in `classes` subfolders."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = path / f"class{i % classes}" if classes else path
        folder.mkdir(parents=True, exist_ok=True)
        channels = 3 if mode == "RGB" else 1
        pixels = rng.integers(0, 256, size + (channels,), dtype=np.uint8)
        Image.fromarray(pixels if channels == 3 else pixels[..., 0],
                        mode).save(folder / f"img{i:03d}.png")
    return str(path)


def write_table(path, rows=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal([1.0, -5.0, 100.0], [1.0, 2.0, 30.0], (rows, 3))
    kinds = rng.choice(["dog", "cat"], rows)
    with open(path, "w") as f:
        f.write("a,b,c,kind\n")
        for row, kind in zip(x, kinds):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{kind}\n")
    return str(path)


@pytest.fixture
def online(monkeypatch):
    """Pretend the network is up: under mock_data, "downloading" is free."""
    monkeypatch.setattr(tfds_reader, "network_reachable", lambda: True)


@pytest.fixture(params=["folder", "csv", "npy", "tfds"])
def source(request, tmp_path, online):
    """`DataConfig` fields of one small source of each kind."""
    kind = request.param
    if kind == "folder":
        yield dict(dataset=make_folder(tmp_path / "pics", 40))
    elif kind == "csv":
        yield dict(dataset=write_table(tmp_path / "t.csv"),
                   label_column="kind")
    elif kind == "npy":
        rng = np.random.default_rng(0)
        np.save(tmp_path / "x.npy", rng.normal(3, 2, (50, 4, 3)))
        yield dict(dataset=str(tmp_path / "x.npy"))
    else:
        with tfds.testing.mock_data(num_examples=30):
            yield dict(dataset="mnist", data_dir=str(tmp_path))


def epoch(split, seed=0, epoch_index=0, labels=False):
    position = tf.Variable(0, dtype=tf.int64)
    ds = split.dataset(8, labels=labels, shuffle=True, seed=seed,
                       position=position)
    position.assign(epoch_index * len(ds))
    return np.concatenate([b[0] if labels else b
                           for b in ds.as_numpy_iterator()])


def rows(x):
    return sorted(row.tobytes() for row in x.reshape(len(x), -1))


def test_both_paths_agree_on_keys_preprocessing_and_epochs(source):
    memory = load(DataConfig(data_path="memory", **source), seed=3)
    stream = load(DataConfig(data_path="stream", **source), seed=3)
    assert (memory.data_path, stream.data_path) == PATHS
    assert memory.input_shape == stream.input_shape
    for name in ("train", "validation"):
        np.testing.assert_array_equal(getattr(memory, name).index,
                                      getattr(stream, name).index)
    np.testing.assert_allclose(stream.preprocessing.offset,
                               memory.preprocessing.offset, rtol=1e-6)
    np.testing.assert_allclose(stream.preprocessing.scale,
                               memory.preprocessing.scale, rtol=1e-6)
    np.testing.assert_allclose(stream.data_range, memory.data_range,
                               rtol=1e-6)
    for bundle in (memory, stream):
        first = epoch(bundle.train, seed=3)
        # Every training example exactly once an epoch, in model space.
        assert rows(first) == rows(memory.train.x)
        # The same seed gives the same order again; epochs differ.
        np.testing.assert_array_equal(epoch(bundle.train, seed=3), first)
        assert not np.array_equal(epoch(bundle.train, 3, 1), first)
    # The validation examples, in model space, are the same too.
    streamed = np.concatenate(list(
        stream.validation.dataset(8).as_numpy_iterator()))
    np.testing.assert_allclose(streamed, memory.validation.x, atol=1e-5)


def test_the_split_follows_the_seed_not_the_path_or_order(tmp_path):
    folder = make_folder(tmp_path / "pics", 40)
    keys = {seed: load(DataConfig(dataset=folder), seed=seed)
            for seed in (0, 1)}
    assert len(keys[0].validation) == 4
    assert not np.array_equal(keys[0].validation.index,
                              keys[1].validation.index)


    def held_keys():
        config = DataConfig(dataset=folder)
        held = load(config, seed=0).validation.index
        return set(loader.open_source(config).keys("train")[held])

    # Held-out files are chosen by their path's hash: renaming one file
    # moves at most that file.
    before = held_keys()
    os.rename(os.path.join(folder, "class0", "img000.png"),
              os.path.join(folder, "class0", "zzz.png"))
    assert len(held_keys() ^ before) <= 2


# Options: each works on both paths (and the run records what it did), or
# is refused before anything is trained.

def option_cases(tmp_path):
    folder = make_folder(tmp_path / "pics", 24)
    other = make_folder(tmp_path / "other", 8, seed=1)
    table = write_table(tmp_path / "t.csv")
    series = tmp_path / "s.csv"
    series.write_text("v\n" + "\n".join(
        f"{np.sin(i / 3):.4f}" for i in range(80)) + "\n")
    return {
        "binarize_static": dict(dataset=folder, binarize="static"),
        "binarize_dynamic": dict(dataset=folder, binarize="dynamic"),
        "output_bias": dict(dataset=folder),
        "test_dataset": dict(dataset=folder, test_dataset=other),
        "train_classes": dict(dataset=folder, train_classes=(1,)),
        "image_size": dict(dataset=folder, image_size=(3, 5), crop=True),
        "label_column": dict(dataset=table, label_column="kind"),
        "kl_warmup": dict(dataset=folder),
        "window": dict(dataset=str(series), window=8),
        "binarize_table": dict(dataset=table, label_column="kind",
                               binarize="static"),
    }


REFUSED = {
    ("window", "stream"): "--window reads the series into memory once",
    ("binarize_table", "memory"): "--binarize=static needs data in [0, 1]",
    ("binarize_table", "stream"): "--binarize=static needs data in [0, 1]",
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", [
    "binarize_static", "binarize_dynamic", "output_bias", "test_dataset",
    "train_classes", "image_size", "label_column", "kl_warmup", "window",
    "binarize_table"])
def test_every_option_works_on_both_paths_or_is_refused(tmp_path, case,
                                                        path):
    data = DataConfig(data_path=path, validation_fraction=0.25,
                      **option_cases(tmp_path)[case])
    model = ModelConfig(
        name="vae", hidden_units=(8,), latent_dim=2,
        output_bias="data_mean" if case == "output_bias" else "zeros",
        kl_warmup_epochs=1 if case == "kl_warmup" else 0,
        arch="conv1d" if case == "window" else "dense")
    train = TrainConfig(epochs=2, batch_size=8)
    workdir = str(tmp_path / "run")
    if (case, path) in REFUSED:
        with pytest.raises(KerasaeError) as info:
            training.train(Config(model=model, data=data, train=train),
                           workdir, verbose=0)
        assert str(info.value).startswith(REFUSED[case, path])
        assert "\n" not in str(info.value)
        assert not os.path.exists(os.path.join(workdir, "model.keras"))
        return
    metrics = training.train(Config(model=model, data=data, train=train),
                             workdir, verbose=0)
    recorded = json.load(open(os.path.join(workdir, "config.json")))
    assert recorded["data"]["data_path"] == metrics["data_path"] == path
    assert np.isfinite(metrics[metrics["eval_split"]]["loss"])
    expected = {"binarize_static": ("binarize", "static"),
                "binarize_dynamic": ("binarize", "dynamic"),
                "image_size": ("image_size", [3, 5]),
                "train_classes": ("train_classes", [1]),
                "label_column": ("label_column", "kind"),
                "window": ("window", 8)}
    if case in expected:
        field, value = expected[case]
        assert recorded["data"][field] == value
    if case == "test_dataset":
        assert metrics["eval_split"] == "test"
        assert metrics["num_examples"] == 8
    if case == "image_size":
        assert recorded["model"]["input_shape"] == [3, 5, 1]


def test_output_bias_is_the_training_mean_on_both_paths(tmp_path):
    folder = make_folder(tmp_path / "pics", 24)
    means = [load(DataConfig(dataset=folder, data_path=path)).train_mean()
             for path in PATHS]
    np.testing.assert_allclose(means[0], means[1], rtol=1e-6)
    memory = load(DataConfig(dataset=folder))
    np.testing.assert_allclose(means[0], memory.train.x.mean(axis=0),
                               rtol=1e-6)


def test_binarized_pixels_are_the_same_on_both_paths(tmp_path):
    folder = make_folder(tmp_path / "pics", 24)
    bundles = [load(DataConfig(dataset=folder, data_path=path,
                               binarize="static"), seed=2)
               for path in PATHS]
    for name in ("train", "validation"):
        memory = getattr(bundles[0], name).x
        streamed = np.concatenate(list(getattr(bundles[1], name).dataset(
            8).as_numpy_iterator()))
        assert set(np.unique(memory)) == {0.0, 1.0}
        np.testing.assert_array_equal(streamed, memory)


# Resume: an interrupted streamed run ends where an uninterrupted one does.

@pytest.mark.parametrize("kind", ["folder", "csv", "tfds"])
def test_an_interrupted_streamed_run_resumes_exactly(tmp_path, kind,
                                                     online):
    if kind == "folder":
        data = dict(dataset=make_folder(tmp_path / "pics", 48))
    elif kind == "csv":
        data = dict(dataset=write_table(tmp_path / "t.csv", rows=96),
                    label_column="kind")
    else:
        data = dict(dataset="mnist", data_dir=str(tmp_path))
    config = Config(
        model=ModelConfig(name="vae", hidden_units=(8,), latent_dim=2),
        data=DataConfig(data_path="stream", **data),
        train=TrainConfig(epochs=3, batch_size=8))
    with tfds.testing.mock_data(num_examples=40):
        whole = training.train(config, str(tmp_path / "whole"), verbose=0)
        workdir = str(tmp_path / "resumed")
        with pytest.raises(KeyboardInterrupt):
            training.train(config, workdir, callbacks=[StopAfter(1)],
                           verbose=0)
        resumed = training.train(config, workdir, verbose=0)
    split = whole["eval_split"]
    for key, value in whole[split].items():
        assert resumed[split][key] == pytest.approx(value, rel=1e-5), \
            (kind, key)


# The path choice, sharding and samples.

def test_auto_streams_above_the_limit(tmp_path):
    folder = make_folder(tmp_path / "pics", 10)
    small = DataConfig(dataset=folder)
    source = loader.open_source(small)
    assert loader.data_path(small, source) == "memory"
    # 10 images of 4x4x1 float32 are 640 bytes.
    tight = dataclasses.replace(small, in_memory_limit_mb=0.0005)
    assert loader.data_path(tight, source) == "stream"
    assert load(tight).data_path == "stream"


def test_arrays_held_whole_do_not_stream(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.zeros((4, 3)))
    with pytest.raises(DataError) as info:
        load(DataConfig(dataset=str(path), data_path="stream"))
    assert str(info.value) == (
        "--data_path=stream cannot stream a.npz: it is read whole (a .npz "
        "archive, or arrays from Python); save the features with np.save "
        "as a .npy file to stream them")
    # auto keeps it in memory whatever its size.
    tight = DataConfig(dataset=str(path), in_memory_limit_mb=0)
    assert load(tight).data_path == "memory"


def test_worker_shards_partition_the_training_examples(tmp_path):
    bundle = load(DataConfig(dataset=make_folder(tmp_path / "pics", 20),
                             data_path="stream"))
    parts = [np.concatenate(list(bundle.train.dataset(
        4, shard=(2, i)).as_numpy_iterator())) for i in range(2)]
    assert len(parts[0]) == len(parts[1]) == len(bundle.train) // 2
    assert not set(rows(parts[0])) & set(rows(parts[1]))


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

    assert distribute.worker_shard(Strategy()) == (3, 2)
    assert distribute.worker_shard(object()) is None


def test_a_sample_is_bounded_repeatable_and_covers_classes(tmp_path):
    folder = make_folder(tmp_path / "pics", 60, classes=3)
    bundle = load(DataConfig(dataset=folder, data_path="stream"))
    sampled = bundle.sample(12)
    assert len(sampled.train) == 12 and sampled.sampled == 12
    assert sampled.data_path == "memory"
    assert set(np.unique(sampled.train.y)) == {0, 1, 2}
    np.testing.assert_array_equal(sampled.train.x, bundle.sample(12).train.x)
    memory = load(DataConfig(dataset=folder))
    assert memory.sample(12) is memory


# Readers: what each path shares.

def test_resize_crops_the_centre(tmp_path):
    # A 4x8 image whose left and right quarters are white: the centred
    # 4x4 window is black.
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[:, :2] = pixels[:, 6:] = 255
    (tmp_path / "wide").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(tmp_path / "wide" / name)
    for crop, black in ((True, True), (False, False)):
        bundle = load(DataConfig(dataset=str(tmp_path / "wide"),
                                 image_size=(2, 2), crop=crop))
        assert (bundle.train.x.max() == 0) == black


def test_mixed_sizes_name_the_flag_that_resizes(tmp_path):
    make_folder(tmp_path / "mixed", 3, size=(4, 4), classes=0)
    make_folder(tmp_path / "mixed", 1, size=(5, 3), seed=1, classes=0)
    for path in PATHS:
        with pytest.raises(DataError, match="images must all share one "
                           "size") as info:
            load(DataConfig(dataset=str(tmp_path / "mixed"),
                            data_path=path))
        assert str(info.value).endswith(
            ": pass --image_size=H,W to resize them")
    resized = load(DataConfig(dataset=str(tmp_path / "mixed"),
                              image_size=(4, 4)))
    assert resized.input_shape == (4, 4, 1)


@pytest.mark.parametrize("text,message", [
    ("a,b\n1,2\n3,x\n", "t.csv: row 3, column 'b': 'x' is not a number"),
    ("a,b\n1,2\n\n3,\n", "t.csv: row 4, column 'b' is empty; fill in a "
     "number"),
    ("a,b\n1,2\n3,4,5\n", "t.csv: row 3 has 3 values but the header has "
     "2 columns"),
    ("a,b\n1,2\n3,inf\n", "t.csv: row 3, column 'b': 'inf' is not a finite "
     "number"),
])
def test_csv_messages_on_both_paths(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    for path in PATHS:
        with pytest.raises(DataError) as info:
            load(DataConfig(dataset=str(tmp_path / "t.csv"),
                            data_path=path))
        assert str(info.value).startswith(message), path


def test_csv_chunks_agree_with_one_chunk(tmp_path, monkeypatch):
    path = write_table(tmp_path / "t.csv", rows=300)
    config = DataConfig(dataset=path, data_path="stream",
                        label_column="kind")
    whole = load(config)
    monkeypatch.setattr(tables, "CHUNK_ROWS", 7)
    chunked = load(config)
    np.testing.assert_allclose(whole.preprocessing.offset,
                               chunked.preprocessing.offset, rtol=1e-6)
    np.testing.assert_array_equal(whole.validation.index,
                                  chunked.validation.index)


def test_npy_nan_is_named_by_index(tmp_path):
    bad = np.random.default_rng(0).normal(size=(50, 3))
    bad[7, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    for path in PATHS:
        with pytest.raises(DataError, match=r"bad.npy: array\[7, 2\] is "
                           "nan"):
            load(DataConfig(dataset=str(tmp_path / "bad.npy"),
                            data_path=path))


def test_image_size_is_refused_for_files(tmp_path):
    path = write_table(tmp_path / "t.csv")
    with pytest.raises(DataError) as info:
        load(DataConfig(dataset=path, image_size=(4, 4)))
    assert str(info.value) == (
        "--image_size applies to image folders and TFDS datasets, not to "
        "t.csv: resize the arrays first")


@pytest.mark.parametrize("data,message", [
    (DataConfig(image_size=(4,)), "--image_size=4: give HEIGHT,WIDTH"),
    (DataConfig(crop=True), "--crop needs --image_size=HEIGHT,WIDTH"),
    (DataConfig(data_path="disk"), "--data_path='disk' is not one of"),
    (DataConfig(in_memory_limit_mb=0), "--in_memory_limit_mb=0: must be"),
    (DataConfig(sample_size=0), "--sample_size=0: must be"),
])
def test_bad_data_options(data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        validate(Config(data=data))
