"""Training under `tf.distribute` gives the result of one device.

Two logical CPU devices must be configured before TensorFlow initialises
its devices, and `MultiWorkerMirroredStrategy` before any op runs, so the
checks run in fresh processes (`tests/distribute_worker.py`), several
checks per process because each costs a TensorFlow import. The tests here
read the measurements those processes write and assert on them.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from sample_data import blob_images

from kerasae.errors import ConfigError
from kerasae.models import MODELS
from kerasae.models import replicas
from kerasae.training import distribute

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "distribute_worker.py")
TIMEOUT = 300  # seconds per helper process; they take 20-60 s here

# Metrics of a whole batch rather than a mean over examples: under two
# replicas the tracker averages the two shards' values, which differs from
# the value of the global batch. They are reported, never differentiated.
BATCH_STATISTIC_METRICS = {"sample_mmd"}


def step_cases():
    """Case ids over the registry; the sparse model once per penalty, the
    aae once more per categorical mode."""
    cases = []
    for name in MODELS.names():
        cases += ([f"{name}-kl", f"{name}-l1"] if name == "sparse_ae"
                  else [name])
    return cases + ["aae-clustering", "aae-semi_supervised"]


def run_helper(tmp_path, mode, *args, env=None):
    """Runs `distribute_worker.py mode` and returns the JSON it writes."""
    out = tmp_path / f"{mode}.json"
    process = subprocess.run(
        [sys.executable, WORKER, mode, str(out), *map(str, args)],
        capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def data_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    # 100 examples: 80 train (5 batches of 16), 20 validation.
    np.savez(path, x=blob_images(100)[0])
    return str(path)


@pytest.fixture(scope="module")
def local_results(tmp_path_factory, data_path):
    """The one-step and the training checks on two logical CPUs, in one
    helper process (one TensorFlow import for both)."""
    root = tmp_path_factory.mktemp("local")
    return run_helper(root, "local", data_path, root)


@pytest.fixture(scope="module")
def step_results(local_results):
    return local_results["step"]


@pytest.fixture(scope="module")
def train_results(local_results):
    return local_results["train"]


# ------------------------------------------------------------ one step
def test_helper_covers_every_registered_model(step_results):
    assert step_results["replicas"] == 2
    assert sorted(step_results["models"]) == sorted(step_cases())


@pytest.mark.parametrize("case", step_cases())
def test_one_mirrored_step_matches_one_device(step_results, case):
    # SGD on a global batch of 16: one device, and two replicas of 8.
    # Noise is fixed to the same values on both sides (DAE corruption
    # x -> 0.7 x, VAE eps and prior samples constant): one device draws a
    # (16, ...) block where two replicas draw two (8, ...) blocks.
    result = step_results["models"][case]
    assert result["weights_rel_error"] < 1e-5
    # Relative to the step itself (the weights hardly move in one step).
    assert result["update_rel_error"] < 1e-4
    for name, error in result["metric_rel_error"].items():
        if name not in BATCH_STATISTIC_METRICS:
            assert error < 1e-5, name


def test_the_step_check_catches_mis_scaled_losses(step_results):
    controls = step_results["controls"]
    # tf.reduce_mean per replica: the summed gradients are twice as large,
    # so the step is twice as long (GUIDE.md's measurement).
    assert controls["reduce_mean"]["update_rel_error"] == pytest.approx(
        1.0, abs=1e-3)
    # rho_hat of each replica's shard instead of the global batch.
    assert controls["local_rho_hat"]["weights_rel_error"] > 1e-5


@pytest.mark.parametrize("case", step_cases())
def test_replicas_draw_independent_noise(step_results, case):
    draws = step_results["draws"][case]
    if not draws:
        pytest.skip(f"{case} draws no random numbers")
    for hook, result in draws.items():
        assert not result["identical_across_replicas"], hook
        assert not result["repeats_between_steps"], hook


# ------------------------------------------------------------ training
@pytest.mark.parametrize("name", ["ae", "sparse_ae"])
def test_mirrored_training_reaches_the_one_device_loss(train_results, name):
    # 3 epochs of Adam on 5 batches of 16, then the validation loss. Only
    # the order of float sums differs (measured: 2e-5 ae, 7e-5 sparse_ae);
    # Adam divides by sqrt(v), which magnifies it where gradients are tiny.
    losses = train_results[name]
    assert losses["mirrored"] == pytest.approx(losses["default"], rel=5e-4)


def test_batch_must_divide_across_real_replicas(train_results):
    assert train_results["odd_batch_error"] == (
        "--batch_size=15 does not divide evenly across 2 replicas; use a "
        "multiple of 2")


def test_interrupted_mirrored_run_resumes_under_mirrored(train_results):
    resumed = train_results["resume"]
    assert resumed["epochs"] == [1, 2]
    assert np.isfinite(resumed["loss"])


# -------------------------------------------------------- two workers
def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_two_workers(tmp_path, data_path, mode="worker"):
    """Runs `mode` of the helper as two workers on localhost; returns
    their results."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    processes, outs = [], []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({
            "cluster": cluster, "task": {"type": "worker", "index": index}}))
        outs.append(tmp_path / f"worker{index}.json")
        workdir = tmp_path / f"workdir{index}"  # no shared filesystem
        processes.append(subprocess.Popen(
            [sys.executable, WORKER, mode, str(outs[-1]), data_path,
             str(workdir)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    try:
        logs = [p.communicate(timeout=TIMEOUT)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(processes, logs):
        assert p.returncode == 0, log[-3000:]
    return [json.loads(o.read_text()) for o in outs]


def test_two_workers_on_localhost_agree(tmp_path, data_path):
    chief, other = run_two_workers(tmp_path, data_path)
    assert chief["replicas"] == other["replicas"] == 2
    for a, b in zip(chief["weights"], other["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert chief["metrics"]["validation"] == other["metrics"]["validation"]
    written = {"model.keras", "metrics.json", "checkpoints", "logs",
               "config.json"}
    assert written <= set(os.listdir(tmp_path / "workdir0"))
    assert not written & set(os.listdir(tmp_path / "workdir1"))


def test_two_streaming_workers_read_their_own_shards(tmp_path):
    path = tmp_path / "blobs.npy"
    np.save(path, blob_images(100)[0])
    chief, other = run_two_workers(tmp_path, str(path), "stream_worker")
    assert chief["shards"] == [[2, 0]] and other["shards"] == [[2, 1]]
    for a, b in zip(chief["weights"], other["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert chief["metrics"]["data_path"] == "stream"


# ------------------------------------------------------- in-process
def test_malformed_tf_config_names_the_expected_form():
    with pytest.raises(ConfigError, match="TF_CONFIG must be JSON like"):
        distribute.check_tf_config('{"task": {"type": "worker"}}')
    distribute.check_tf_config("")  # no TF_CONFIG: one worker


def test_one_replica_seeds_are_those_of_a_plain_generator():
    import keras
    plain = keras.random.SeedGenerator(7)
    replica = replicas.ReplicaSeedGenerator(7)
    for _ in range(2):
        np.testing.assert_array_equal(plain.next(), replica.next())
