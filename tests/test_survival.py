"""`train.py` as a scheduler runs it: killed with SIGKILL at random
moments and started again, started twice at once, and under a
distribution strategy (subprocesses, tiny generated data)."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO

EPOCHS = 24
KEEP = 2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "readings.npz"
    np.savez(path, x=rng.normal(size=(96, 6)).astype("float32"))
    return str(path)


def command(dataset, workdir, *extra, epochs=EPOCHS):
    return [sys.executable, os.path.join(REPO, "train.py"),
            f"--dataset={dataset}", "--model=ae", "--hidden_units=8",
            "--latent_dim=2", f"--epochs={epochs}", "--batch_size=16",
            "--seed=3", f"--keep_checkpoints={KEEP}",
            "--matmul_precision=float32", "--thread_pools=tensorflow",
            f"--workdir={workdir}", *extra]


def start(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(args, cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process):
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def history(workdir):
    try:
        with open(os.path.join(workdir, "history.csv")) as handle:
            return [int(r["epoch"]) for r in csv.DictReader(handle)
                    if r.get("epoch", "").isdigit()]
    except FileNotFoundError:
        return []


def checkpoints(workdir):
    folder = os.path.join(workdir, "checkpoints")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [n for n in names if re.fullmatch(r"epoch-\d+\.weights\.h5", n)]


def loss(workdir):
    metrics = json.load(open(os.path.join(workdir, "metrics.json")))
    return metrics[metrics["eval_split"]]["loss"], metrics["epochs"]


def test_sigkill_at_random_moments_then_the_same_numbers(dataset, tmp_path):
    # The uninterrupted run trains in its own workdir meanwhile.
    reference = str(tmp_path / "uninterrupted")
    uninterrupted = start(command(dataset, reference))
    workdir = str(tmp_path / "killed")
    rng = np.random.default_rng(11)
    # Three kills, each once a random number of epochs is logged (so
    # inside training, where the backup and checkpoints are written),
    # after a further random delay of up to 60 ms.
    targets = sorted(rng.choice(np.arange(2, EPOCHS - 2), 3, replace=False))
    try:
        for target in targets:
            process = start(command(dataset, workdir))
            while len(history(workdir)) < target and process.poll() is None:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.06))
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            assert process.returncode == -signal.SIGKILL, \
                "finished before kill"
            assert not os.path.exists(os.path.join(workdir, "metrics.json"))
            assert len(checkpoints(workdir)) <= KEEP + 1
        code, out, err = finish(start(command(dataset, workdir)))
    finally:  # waited for even when a check above fails
        reference_code, _, reference_err = finish(uninterrupted)
    assert code == 0, err[-2000:]
    assert reference_code == 0, reference_err[-2000:]
    assert history(workdir) == list(range(EPOCHS))
    resumed, epochs = loss(workdir)
    expected, _ = loss(reference)
    assert epochs == EPOCHS
    assert abs(resumed - expected) <= 1e-5 * abs(expected)
    assert len(os.listdir(os.path.join(workdir, "checkpoints"))) <= KEEP + 1
    assert not os.path.exists(os.path.join(workdir, "backup"))


def test_two_runs_at_once_one_trains_the_other_refuses(dataset, tmp_path):
    workdir = str(tmp_path / "run")
    args = command(dataset, workdir, epochs=80)
    first, second = start(args), start(args)
    results = {p.pid: finish(p) for p in (first, second)}
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 2], [err[-1500:] for _, _, err in results.values()]
    winner = next(pid for pid, r in results.items() if r[0] == 0)
    _, _, err = next(r for r in results.values() if r[0] == 2)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert re.fullmatch(
        rf"error: --workdir={re.escape(workdir)} is in use by pid {winner} "
        r"on host \S+ \(since [\d-]+ [\d:]+ UTC\); wait for it to finish, "
        "or use another --workdir", lines[0]), lines[0]
    assert history(workdir) == list(range(80))


@pytest.mark.parametrize("steps", [[], ["--steps_per_epoch=4"]],
                         ids=["whole_epochs", "steps_per_epoch"])
def test_a_mirrored_run_on_one_device_repeats_the_plain_run(
        dataset, tmp_path, steps):
    runs = {}
    for strategy in (["--strategy=default"],
                     ["--strategy=mirrored", "--cpu_devices=1"]):
        workdir = str(tmp_path / strategy[0][11:])
        runs[workdir] = start(command(
            dataset, workdir, *strategy, *steps, epochs=3))
    losses = []
    for workdir, process in runs.items():  # the two ran at once
        code, _, err = finish(process)
        assert code == 0, err[-2000:]
        losses.append(loss(workdir)[0])
    plain, mirrored = losses
    assert abs(mirrored - plain) <= 1e-6 * abs(plain), losses
