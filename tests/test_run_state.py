"""One writer per workdir, `--overwrite`, checkpoint retention, resuming
with the data order of an uninterrupted run, and the config's range
checks reaching the Python API (in-process, tiny data)."""

import csv
import dataclasses
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from sample_data import write_blob_npz
from training_callbacks import StopAfter

from kerasae import config as kae_config
from kerasae import evaluation
from kerasae import export as kae_export
from kerasae import lock
from kerasae import training
from kerasae import workdir as wd
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.data import make_dataset
from kerasae.data import pipeline
from kerasae.errors import ConfigError
from kerasae.errors import WorkdirError


@pytest.fixture
def npz_path(tmp_path):
    return write_blob_npz(tmp_path / "blobs.npz", 160)


def tiny_config(dataset, epochs=2, binarize="none", **train):
    return Config(
        model=ModelConfig(name="ae", hidden_units=(16,), latent_dim=3),
        data=DataConfig(dataset=dataset, binarize=binarize),
        train=TrainConfig(epochs=epochs, batch_size=32, **train))


def history_epochs(workdir):
    with open(os.path.join(workdir, wd.HISTORY)) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


# ------------------------------------------------------------------ lock
def test_a_busy_workdir_is_refused_naming_the_holder(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    with lock.hold(workdir):
        with pytest.raises(WorkdirError, match=(
                rf"--workdir={workdir} is in use by pid {os.getpid()} on "
                r"host .*; wait for it to finish, or use another --workdir")):
            training.train(tiny_config(npz_path), workdir, verbose=0)
        # Refused before writing: only the lock file is there.
        assert os.listdir(workdir) == [lock.LOCK]
        with pytest.raises(WorkdirError, match="is in use by pid"):
            evaluation.evaluate_run(workdir)
        with pytest.raises(WorkdirError, match=(
                r"is being written by pid .*; export it when that has "
                "finished")):
            kae_export.export(workdir, str(tmp_path / "serving"))
    # Released: the run trains, and the lock file is empty again.
    training.train(tiny_config(npz_path), workdir, verbose=0)
    assert open(os.path.join(workdir, lock.LOCK)).read() == ""


def test_an_export_reading_blocks_a_writer(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    training.train(tiny_config(npz_path), workdir, verbose=0)
    with lock.reading(workdir):
        with pytest.raises(WorkdirError, match=(
                "is in use by another process \\(an export reading it\\)")):
            training.train(tiny_config(npz_path), workdir, verbose=0)


def test_a_refused_run_leaves_no_folder(tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(WorkdirError, match="holds no trained model"):
        evaluation.evaluate_run(str(workdir))
    assert not workdir.exists()


def test_only_the_chief_of_a_multi_worker_run_locks():
    cluster = '{"cluster": {"worker": ["a:1", "b:2"]%s}, ' \
        '"task": {"type": "%s", "index": %d}}'
    writer = lock.is_writer
    assert writer("default") and writer("mirrored")
    assert writer("multi_worker_mirrored", cluster % ("", "worker", 0))
    assert not writer("multi_worker_mirrored", cluster % ("", "worker", 1))
    with_chief = ', "chief": ["c:3"]'
    assert writer("multi_worker_mirrored",
                  cluster % (with_chief, "chief", 0))
    assert not writer("multi_worker_mirrored",
                      cluster % (with_chief, "worker", 0))


# ------------------------------------------------------------- overwrite
def test_overwrite_removes_what_run_and_evaluation_wrote(npz_path,
                                                          tmp_path):
    workdir = str(tmp_path / "run")
    training.train(tiny_config(npz_path), workdir, verbose=0)
    evaluation.evaluate_run(workdir, evaluation.EvalOptions(
        iwae_k=0, plots=True))
    written = set(os.listdir(workdir))
    assert {wd.THRESHOLD, wd.PLOTS} <= written
    # Every file a run and its evaluation write is one `--overwrite`
    # removes (a new output must be added to `workdir.OUTPUTS`).
    assert written - {lock.LOCK} <= set(wd.OUTPUTS)
    training.train(tiny_config(npz_path, epochs=1), workdir, overwrite=True,
                   verbose=0)
    left = set(os.listdir(workdir))
    assert wd.THRESHOLD not in left and wd.PLOTS not in left
    assert lock.LOCK in left and history_epochs(workdir) == [0]


# ----------------------------------------------------------- checkpoints
def test_checkpoints_keep_the_last_few_and_the_best(npz_path, tmp_path,
                                                    capsys):
    workdir = str(tmp_path / "run")
    config = tiny_config(npz_path, epochs=7, keep_checkpoints=2)
    training.train(config, workdir, verbose=0)
    with open(os.path.join(workdir, wd.HISTORY)) as handle:
        val = {int(r["epoch"]) + 1: float(r["val_loss"])
               for r in csv.DictReader(handle)}
    best = min(val, key=val.get)
    kept = sorted(os.listdir(os.path.join(workdir, wd.CHECKPOINTS)))
    assert kept == sorted({f"epoch-{e:03d}.weights.h5"
                           for e in (6, 7, best)})
    assert not os.path.exists(os.path.join(workdir, wd.BACKUP))
    # The summary states the disk the workdir takes (TensorBoard's file
    # may still grow after it is printed).
    shown = re.search(r"  disk:     ([\d.]+) KB in (.*)\n",
                      capsys.readouterr().out)
    assert shown.group(2) == workdir
    assert float(shown.group(1)) == pytest.approx(
        wd.disk_usage(workdir) / 1024, rel=0.05)


def test_keep_checkpoints_zero_writes_none(npz_path, tmp_path):
    workdir = str(tmp_path / "run")
    training.train(tiny_config(npz_path, keep_checkpoints=0), workdir,
                   verbose=0)
    assert not os.path.exists(os.path.join(workdir, wd.CHECKPOINTS))
    assert os.path.exists(os.path.join(workdir, wd.MODEL))


# -------------------------------------------------------------- resuming
@pytest.mark.parametrize("steps_per_epoch,binarize", [
    (None, "none"), (3, "none"),
    # Fresh Bernoulli pixels every step, the same ones after a resume.
    (3, "dynamic")])
def test_a_resumed_run_ends_with_the_uninterrupted_numbers(
        npz_path, tmp_path, steps_per_epoch, binarize):
    config = tiny_config(npz_path, epochs=4, binarize=binarize,
                         steps_per_epoch=steps_per_epoch)
    whole = training.train(config, str(tmp_path / "whole"), verbose=0)
    workdir = str(tmp_path / "resumed")
    for stop in (1, 3):
        with pytest.raises(KeyboardInterrupt):
            training.train(config, workdir, callbacks=[StopAfter(stop)],
                           verbose=0)
    resumed = training.train(config, workdir, verbose=0)
    assert resumed["validation"] == whole["validation"]
    assert history_epochs(workdir) == [0, 1, 2, 3]


def test_history_is_cut_back_to_the_backup(tmp_path):
    workdir = str(tmp_path)
    with open(os.path.join(workdir, wd.HISTORY), "w") as handle:
        handle.write("epoch,loss\n0,1.5\n1,1.2\n2,1.1\n3,1.")
    from kerasae.training import resume
    resume.trim_history(workdir, 2)
    assert history_epochs(workdir) == [0, 1]


def test_epoch_order_is_a_function_of_seed_and_epoch():
    x = np.arange(10, dtype=np.float32)
    position = tf.Variable(0, dtype=tf.int64)
    ds = make_dataset(x, batch_size=4, shuffle=True, seed=5,
                      position=position)
    assert int(ds.cardinality()) == 3

    def epoch(e):
        position.assign(3 * e)
        return np.concatenate(list(ds.as_numpy_iterator()))

    third = epoch(2)
    np.testing.assert_array_equal(np.sort(third), x)
    np.testing.assert_array_equal(third, pipeline.epoch_order(
        10, True, 5, 2).numpy())
    # Whatever came before (a new process starts at epoch 2 directly).
    epoch(0)
    epoch(1)
    np.testing.assert_array_equal(epoch(2), third)
    assert not np.array_equal(epoch(1), third)
    # An endless stream started mid-epoch continues into the next epoch.
    position.assign(7)
    endless = make_dataset(x, batch_size=4, shuffle=True, seed=5,
                           repeat=True, position=position)
    batches = list(endless.take(3).as_numpy_iterator())
    np.testing.assert_array_equal(batches[0], third[4:8])
    np.testing.assert_array_equal(batches[2], pipeline.epoch_order(
        10, True, 5, 3).numpy()[:4])


# ------------------------------------------------ range checks in the API
@pytest.mark.parametrize("field, value, message", [
    ("keep_checkpoints", -1, "--keep_checkpoints=-1: must be 0 or more"),
    ("discriminator_learning_rate", 0.0,
     "--discriminator_learning_rate=0.0: must be greater than 0"),
    ("generator_learning_rate", -1.0,
     "--generator_learning_rate=-1.0: must be greater than 0"),
])
def test_range_checks_reach_the_python_api(npz_path, tmp_path, field,
                                           value, message):
    config = tiny_config(npz_path)
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, **{field: value}))
    with pytest.raises(ConfigError, match=f"^{message}$"):
        kae_config.validate(config)
    with pytest.raises(ConfigError, match=f"^{message}$"):
        training.train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_bad_prior_fails_in_the_python_api_too(npz_path, tmp_path):
    config = tiny_config(npz_path)
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, name="aae", prior="nope"))
    with pytest.raises(ConfigError, match="nope"):
        training.train(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()
