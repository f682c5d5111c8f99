"""`train.py` as a user runs it: a summary at the end, one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
from conftest import REPO


def start_train(*args, cwd=REPO):
    """Starts `train.py args` in a subprocess; returns the `Popen`."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, "train.py"), *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def finish(process, timeout=300):
    """Waits for a `start_train` process; returns its `CompletedProcess`."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode,
                                       out, err)


def run_train(*args, cwd=REPO):
    return finish(start_train(*args, cwd=cwd))


def run_trains(*arg_lists):
    """Runs several independent `train.py` commands at once (each spends
    most of its first seconds importing TensorFlow on one core); returns
    their `CompletedProcess`es in order."""
    processes = [start_train(*args) for args in arg_lists]
    return [finish(p) for p in processes]


def test_train_script_trains_and_prints_a_summary(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "readings.npz"
    np.savez(path, x=rng.normal(size=(120, 6)).astype("float32"))
    workdir = tmp_path / "run"
    result = run_train(f"--dataset={path}", "--model=ae",
                       "--hidden_units=8", "--latent_dim=2", "--epochs=2",
                       f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-2000:]
    # One line per epoch when the output is not a terminal.
    assert "Epoch 2/2" in result.stdout
    assert "validation metrics:" in result.stdout
    assert str(workdir / "model.keras") in result.stdout
    metrics = json.loads((workdir / "metrics.json").read_text())
    # Real-valued data: the loss resolved to mse, reported in both scales.
    assert metrics["validation"]["mse"] > 0
    assert metrics["validation"]["mse_raw"] > 0


def test_train_script_bad_input_is_one_line_and_exit_2(tmp_path):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3,nan\n")
    result = run_train(f"--dataset={bad_csv}", f"--workdir={tmp_path / 'r'}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "bad.csv: row 3, column 'b'" in errors[0]
    assert not (tmp_path / "r" / "config.json").exists()


def test_train_script_rejects_unknown_model_before_running(tmp_path):
    result = run_train("--model=vea", f"--workdir={tmp_path / 'r'}")
    assert result.returncode != 0
    assert "--model=vea" in result.stderr and "vae" in result.stderr
    assert not (tmp_path / "r").exists()
