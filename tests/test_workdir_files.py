"""Damaged or foreign files in a workdir: each command that reads one
refuses it with one line naming the file and what to do, and writes
nothing (`kerasae.workdir`, `kerasae.training.resume`)."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import REPO
from sample_data import blob_images
from training_callbacks import StopAfter

import kerasae
from kerasae import evaluation
from kerasae import export as kae_export
from kerasae import lock
from kerasae import training
from kerasae import workdir as wd
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import WorkdirError

EVAL = evaluation.EvalOptions(iwae_k=0, plots=False)


def config_for(dataset):
    return Config(
        model=ModelConfig(name="ae", hidden_units=(16,), latent_dim=3),
        data=DataConfig(dataset=dataset),
        train=TrainConfig(epochs=3, batch_size=32))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished run (with a threshold) and one stopped after epoch 1."""
    root = tmp_path_factory.mktemp("runs")
    x, y = blob_images(120)
    dataset = str(root / "blobs.npz")
    np.savez(dataset, x=x, y=y)
    finished = str(root / "finished")
    training.train(config_for(dataset), finished, verbose=0)
    evaluation.evaluate_run(finished, EVAL)
    stopped = str(root / "stopped")
    with pytest.raises(KeyboardInterrupt):
        training.train(config_for(dataset), stopped,
                       callbacks=[StopAfter(1)], verbose=0)
    return {"dataset": dataset, "finished": finished, "stopped": stopped}


def truncate(target):
    data = open(target, "rb").read()
    with open(target, "wb") as handle:
        handle.write(data[:len(data) // 2])


def foreign_model(target):
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("notes.txt", "not a model")


def plain_keras_model(target):
    import keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(target + ".keras")
    os.replace(target + ".keras", target)


def write(text):
    def damage(target):
        with open(target, "w") as handle:
            handle.write(text)
    return damage


def snapshot(workdir):
    """Every file but the lock, with its size and modification time."""
    found = {}
    for folder, _, files in os.walk(workdir):
        for name in files:
            if name != lock.LOCK:
                path = os.path.join(folder, name)
                found[path] = (os.path.getsize(path),
                               os.stat(path).st_mtime_ns)
    return found


def backup_weights(workdir):
    folder = os.path.join(workdir, wd.BACKUP)
    return os.path.join(wd.BACKUP, next(
        n for n in os.listdir(folder) if n.endswith(".weights.h5")))


def first_checkpoint(workdir):
    return os.path.join(wd.CHECKPOINTS, sorted(os.listdir(
        os.path.join(workdir, wd.CHECKPOINTS)))[0])


def run_train(runs, workdir):
    training.train(config_for(runs["dataset"]), workdir, verbose=0)


def run_evaluate(runs, workdir):
    evaluation.evaluate_run(workdir, EVAL)


def run_export(runs, workdir):
    kae_export.export(workdir, os.path.join(workdir + "-serving"))


def run_load(runs, workdir):
    kerasae.load(workdir)


TRUNCATED = "truncated"
CASES = [
    # (command, run, file, damage, what to do)
    (run_train, "finished", wd.CONFIG, truncate, wd.FIXES[wd.CONFIG]),
    (run_train, "finished", wd.METRICS, truncate, wd.FIXES[wd.METRICS]),
    (run_train, "stopped", wd.CONFIG, write("[1, 2]"), wd.FIXES[wd.CONFIG]),
    (run_train, "stopped", "backup/training_metadata.json", truncate,
     wd.FIXES[wd.BACKUP]),
    (run_train, "stopped", "backup/training_metadata.json",
     write('{"epoch": "one"}'), wd.FIXES[wd.BACKUP]),
    (run_train, "stopped", backup_weights, truncate, wd.FIXES[wd.BACKUP]),
    (run_train, "stopped", first_checkpoint, truncate,
     wd.FIXES[wd.CHECKPOINTS]),
    (run_evaluate, "finished", wd.CONFIG, truncate, wd.FIXES[wd.CONFIG]),
    (run_evaluate, "finished", wd.CONFIG, write('{"model": {"size": 3}}'),
     wd.FIXES[wd.CONFIG]),
    (run_evaluate, "finished", wd.PREPROCESSING, truncate,
     wd.FIXES[wd.PREPROCESSING]),
    (run_evaluate, "finished", wd.PREPROCESSING,
     write('{"offset": "zero", "scale": 1}'), wd.FIXES[wd.PREPROCESSING]),
    (run_evaluate, "finished", wd.MODEL, truncate, wd.FIXES[wd.MODEL]),
    (run_evaluate, "finished", wd.MODEL, foreign_model, wd.FIXES[wd.MODEL]),
    (run_evaluate, "finished", wd.MODEL, plain_keras_model,
     wd.FIXES[wd.MODEL]),
    (run_evaluate, "finished", wd.METRICS, truncate, wd.FIXES[wd.METRICS]),
    (run_export, "finished", wd.CONFIG, truncate, wd.FIXES[wd.CONFIG]),
    (run_export, "finished", wd.PREPROCESSING, write(""),
     wd.FIXES[wd.PREPROCESSING]),
    (run_export, "finished", wd.MODEL, truncate, wd.FIXES[wd.MODEL]),
    (run_export, "finished", wd.MODEL, foreign_model, wd.FIXES[wd.MODEL]),
    (run_export, "finished", wd.THRESHOLD, truncate, wd.FIXES[wd.THRESHOLD]),
    (run_load, "finished", wd.CONFIG, truncate, wd.FIXES[wd.CONFIG]),
    (run_load, "finished", wd.PREPROCESSING, truncate,
     wd.FIXES[wd.PREPROCESSING]),
    (run_load, "finished", wd.MODEL, truncate, wd.FIXES[wd.MODEL]),
    (run_load, "finished", wd.METRICS, write("{"), wd.FIXES[wd.METRICS]),
    (run_load, "finished", wd.THRESHOLD, write('"0.5"'),
     wd.FIXES[wd.THRESHOLD]),
]


@pytest.mark.parametrize(
    "command, run, name, damage, fix", CASES,
    ids=[f"{c[0].__name__[4:]}-{c[1]}-"
         f"{c[2] if isinstance(c[2], str) else c[2].__name__}-"
         f"{c[3].__name__}" for c in CASES])
def test_a_damaged_file_is_refused_with_one_line(runs, tmp_path, command,
                                                 run, name, damage, fix):
    workdir = str(tmp_path / run)
    shutil.copytree(runs[run], workdir)
    name = name if isinstance(name, str) else name(workdir)
    target = wd.path(workdir, name)
    damage(target)
    before = snapshot(workdir)
    with pytest.raises(WorkdirError) as error:
        command(runs, workdir)
    message = str(error.value)
    assert "\n" not in message
    assert re.fullmatch(
        rf"{re.escape(target)} is damaged or not kerasae's \(.+\); "
        rf"{re.escape(fix)}", message), message
    # A refused run writes nothing.
    assert snapshot(workdir) == before
    assert not os.path.exists(workdir + "-serving")


def test_a_missing_preprocessing_file_is_named(runs, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(runs["finished"], workdir)
    os.remove(wd.path(workdir, wd.PREPROCESSING))
    with pytest.raises(WorkdirError, match=(
            f"^{re.escape(wd.path(workdir, wd.PREPROCESSING))} is missing; "
            "train again with --overwrite")):
        training.load_run(workdir)


# ------------------------------------------------ the commands as run
def run_script(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def one_error_line(result):
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


def test_train_py_refuses_a_truncated_backup(runs, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(runs["stopped"], workdir)
    weights = wd.path(workdir, backup_weights(workdir))
    truncate(weights)
    config = json.load(open(wd.path(workdir, wd.CONFIG)))
    # The flags of the stopped run (the rest are train.py's defaults).
    line = one_error_line(run_script(
        "train.py", f"--dataset={runs['dataset']}", "--model=ae",
        "--hidden_units=16", "--latent_dim=3", "--epochs=3",
        "--batch_size=32", f"--workdir={workdir}",
        f"--matmul_precision={config['train']['matmul_precision']}",
        f"--thread_pools={config['train']['thread_pools']}"))
    assert line.startswith(f"error: {weights} is damaged or not kerasae's")
    assert line.endswith(wd.FIXES[wd.BACKUP])


def test_evaluate_refuses_a_truncated_model(runs, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(runs["finished"], workdir)
    truncate(wd.path(workdir, wd.MODEL))
    line = one_error_line(run_script(
        "-m", "kerasae.evaluate", f"--workdir={workdir}", "--iwae_k=0",
        "--noplots"))
    assert line == (f"error: {wd.path(workdir, wd.MODEL)} is damaged or not "
                    "kerasae's (not a .keras zip archive; truncated?); "
                    + wd.FIXES[wd.MODEL])


def test_export_py_refuses_a_truncated_threshold(runs, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(runs["finished"], workdir)
    truncate(wd.path(workdir, wd.THRESHOLD))
    line = one_error_line(run_script(
        "export.py", f"--workdir={workdir}",
        f"--export_dir={tmp_path / 'serving'}"))
    assert line.startswith(f"error: {wd.path(workdir, wd.THRESHOLD)} is "
                           "damaged or not kerasae's (JSONDecodeError")
    assert not (tmp_path / "serving" / "ae").exists()
