"""Shared test setup: quiet TensorFlow logs, and small model configs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
