"""Thread pools: when `auto` picks one intra-op thread, and that training
applies and records the choice."""

import json

import numpy as np
import pytest
from test_train_script import run_trains

from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.errors import ConfigError
from kerasae.training import precision
from kerasae.training import threads

MIB = 2**20
MNIST = (28, 28, 1)


def test_the_mnist_vae_matmuls_fit_one_core_only_in_bfloat16_at_128():
    # The largest matmuls, 128x784 by 784x400 and their gradients:
    # 465,152 elements of A, B and C, so 0.93 MB in bfloat16.
    sizes = [28 * 28, 400, 40]
    assert threads.matmuls_fit_one_core(sizes, 128, 2, MIB)
    assert not threads.matmuls_fit_one_core(sizes, 128, 4, MIB)
    assert not threads.matmuls_fit_one_core(sizes, 1024, 2, MIB)
    assert not threads.matmuls_fit_one_core(sizes, 128, 2, MIB // 2)


def resolve(model=None, train=None, **kwargs):
    config = Config(model=model or ModelConfig(),
                    train=train or TrainConfig())
    settings = dict(input_shape=MNIST, precision="bfloat16", gpu=False,
                    cores=2, l2=MIB)
    settings.update(kwargs)
    return threads.resolve(config, **settings)


def test_auto_picks_inter_op_for_the_default_vae_on_mnist():
    assert resolve() == "inter_op"


@pytest.mark.parametrize("change", [
    dict(model=ModelConfig(arch="conv", hidden_units=(32, 64))),
    dict(model=ModelConfig(hidden_units=(2000,))),
    dict(train=TrainConfig(batch_size=1024)),
    dict(train=TrainConfig(strategy="mirrored")),
    dict(train=TrainConfig(cpu_devices=2)),
    dict(precision="float32"),
    dict(gpu=True),
    dict(cores=1),
    dict(input_shape=None),
    dict(input_shape=(64, 64, 3)),
    dict(l2=0),  # unknown
])
def test_auto_keeps_tensorflows_pools_otherwise(change):
    assert resolve(**change) == "tensorflow"


def test_conv_multiply_adds_follow_the_layers():
    # MNIST conv VAE: 3x3 stride-2 32 and 64 filters, mirrored, then 1.
    assert threads.conv_macs((28, 28, 1), "conv", (32, 64)) == [
        14 * 14 * 9 * 1 * 32, 7 * 7 * 9 * 32 * 64, 7 * 7 * 9 * 64 * 64,
        14 * 14 * 9 * 64 * 32, 28 * 28 * 9 * 32 * 1]
    # 48-step windows of 2 sensors, kernel 7, 32 and 16 filters.
    assert threads.conv_macs((48, 2), "conv1d", (32, 16)) == [
        24 * 7 * 2 * 32, 12 * 7 * 32 * 16, 12 * 7 * 16 * 16,
        24 * 7 * 16 * 32, 48 * 7 * 32 * 2]


@pytest.mark.parametrize("shape, arch, batch, expected", [
    ((48, 2), "conv1d", 128, "inter_op"),     # largest 11 million per step
    ((48, 2), "conv1d", 8192, "tensorflow"),  # 704 million
    ((28, 28, 1), "conv", 128, "tensorflow"),  # 462 million
    ((28, 28, 1), "conv", 8, "inter_op"),      # 29 million
    ((48, 2, 1), "conv1d", 128, "tensorflow"),  # not windows: the model
])                                              # refuses it
def test_auto_picks_inter_op_for_small_convolutions(shape, arch, batch,
                                                    expected):
    filters = (32, 16) if arch == "conv1d" else (32, 64)
    model = ModelConfig(arch=arch, hidden_units=filters)
    for precision_name in ("float32", "bfloat16"):
        assert resolve(model=model, train=TrainConfig(batch_size=batch),
                       input_shape=shape,
                       precision=precision_name) == expected
    assert resolve(model=model, train=TrainConfig(batch_size=batch),
                   input_shape=shape, gpu=True) == "tensorflow"


def test_explicit_choices_are_kept_and_others_refused():
    for choice in ("tensorflow", "inter_op"):
        assert resolve(train=TrainConfig(thread_pools=choice),
                       gpu=True) == choice
    with pytest.raises(ConfigError, match="--thread_pools='many'"):
        resolve(train=TrainConfig(thread_pools="many"))


def test_l2_size_is_read_from_sysfs(tmp_path):
    for index, level, size in (("index0", "1", "48K"), ("index2", "2", "2M"),
                               ("index3", "3", "32768K")):
        folder = tmp_path / index
        folder.mkdir()
        (folder / "level").write_text(level + "\n")
        (folder / "size").write_text(size + "\n")
    assert threads.l2_bytes(str(tmp_path)) == 2 * MIB
    assert threads.l2_bytes(str(tmp_path / "missing")) is None


def test_input_shape_is_known_before_loading_only_for_tfds(tmp_path,
                                                          shared_tfds):
    assert threads.input_shape_before_loading(
        DataConfig(dataset="mnist", data_dir=shared_tfds)) == MNIST
    path = tmp_path / "x.npz"
    np.savez(path, x=np.zeros((4, 3), "float32"))
    assert threads.input_shape_before_loading(
        DataConfig(dataset=str(path))) is None
    assert threads.input_shape_before_loading(
        DataConfig(dataset="no_such_dataset_xyz")) is None


def test_train_script_applies_and_records_the_pools(tmp_path):
    # A file loads before TensorFlow starts, so auto sees its input size:
    # 6 features fit one core's L2, 20,000 into 512 units do not.
    rng = np.random.default_rng(0)
    small, large = tmp_path / "small.npz", tmp_path / "large.npz"
    np.savez(small, x=rng.normal(size=(64, 6)).astype("float32"))
    np.savez(large, x=rng.normal(size=(16, 20000)).astype("float32"))
    small_model = ModelConfig(name="ae", hidden_units=(8,), latent_dim=2)
    fits = threads.resolve(
        Config(model=small_model), input_shape=(6,),
        precision=precision.resolve("auto"), gpu=precision.has_gpu())
    runs = [
        (small, "auto", "8", fits),
        (small, "inter_op", "8", "inter_op"),
        (small, "tensorflow", "8", "tensorflow"),
        (large, "auto", "512", "tensorflow"),
    ]
    # Four independent processes (pools are set when TensorFlow starts),
    # run at once.
    results = run_trains(*(
        [f"--dataset={path}", "--model=ae", f"--hidden_units={units}",
         "--latent_dim=2", "--epochs=1", f"--thread_pools={choice}",
         f"--workdir={tmp_path / f'run{i}'}"]
        for i, (path, choice, units, _) in enumerate(runs)))
    for i, ((path, choice, _, expected), result) in enumerate(
            zip(runs, results)):
        assert result.returncode == 0, result.stderr[-2000:]
        metrics = json.loads((tmp_path / f"run{i}" / "metrics.json")
                             .read_text())
        assert metrics["thread_pools"] == expected, (path.name, choice)
