"""Shared test setup: quiet TensorFlow logs, and small model configs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# NumPy's OpenBLAS on one thread, here and in the subprocesses tests start.
# Its worker threads spin-wait for each other: on a machine whose other
# core is busy, a (10000, 784) SVD took 47 s on two threads against 2 s on
# one, and an eigh of a 784 x 784 covariance 6.9 s against 0.1 s.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TFDS = os.path.join(os.path.dirname(REPO), "shared", "tfds")


@pytest.fixture
def shared_tfds():
    """Path of the prepared MNIST in TFDS format, or skip."""
    if not os.path.isdir(os.path.join(SHARED_TFDS, "mnist")):
        pytest.skip(f"prepared MNIST not found at {SHARED_TFDS}")
    return SHARED_TFDS


@pytest.fixture
def npz_path(tmp_path):
    """200 blob images with labels, as an `.npz` dataset path."""
    from sample_data import write_blob_npz
    return write_blob_npz(tmp_path / "blobs.npz", 200)
