"""Helper processes for `tests/test_distribute.py` (not a test module).

Logical CPU devices and `MultiWorkerMirroredStrategy` must be set up
before TensorFlow initialises its devices, so each check runs in a fresh
process started by the tests:

    python tests/distribute_worker.py step OUT.json     # 2 logical CPUs
    python tests/distribute_worker.py train OUT.json DATA.npz WORKROOT
    python tests/distribute_worker.py local OUT.json DATA.npz WORKROOT
    TF_CONFIG=... python tests/distribute_worker.py worker OUT.json \
        DATA.npz WORKDIR

Each writes its measurements to OUT.json; the tests assert on them.
`local` is `step` and `train` in one process (`{"step": ..., "train":
...}`), which saves a TensorFlow import.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from kerasae.training import distribute  # noqa: E402

if sys.argv[1] in ("step", "train", "local"):
    distribute.configure_cpu_devices(2)

import inspect  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402
from training_callbacks import CountEpochs  # noqa: E402
from training_callbacks import StopAfter  # noqa: E402

from kerasae import models  # noqa: E402
from kerasae import training  # noqa: E402
from kerasae.config import Config  # noqa: E402
from kerasae.config import DataConfig  # noqa: E402
from kerasae.config import ModelConfig  # noqa: E402
from kerasae.config import TrainConfig  # noqa: E402
from kerasae.models.autoencoder import SparseAutoencoder  # noqa: E402
from kerasae.models.base import Autoencoder  # noqa: E402

GLOBAL_BATCH = 16
FEATURES = 6
LEARNING_RATE = 0.5  # SGD: an update proportional to the gradient


def step_cases():
    """(case id, model name, `ModelConfig` overrides), over the registry."""
    cases = []
    for name in models.MODELS.names():
        if name == "sparse_ae":
            cases += [("sparse_ae-kl", name, {"sparsity": "kl"}),
                      ("sparse_ae-l1", name, {"sparsity": "l1"})]
        else:
            cases.append((name, name, {}))
    # The categorical adversarial autoencoders: two discriminators, and a
    # classification phase on labelled batches (semi-supervised).
    cases += [("aae-clustering", "aae", {"aae_mode": "clustering",
                                         "clusters": 3}),
              ("aae-semi_supervised", "aae",
               {"aae_mode": "semi_supervised", "num_classes": 3})]
    return cases


def model_config(name, **overrides):
    return ModelConfig(
        name=name, hidden_units=(8,), latent_dim=3, input_shape=(FEATURES,),
        reconstruction_loss="bce", output_activation="sigmoid",
        discriminator_units=(8,), sparsity_weight=1.0, **overrides)


def compile_sgd(model):
    """Plain SGD for every optimizer the model's `compile` accepts.

    Adam would hide a mis-scaled loss: its first step is lr * sign(g).
    """
    names = [p for p in inspect.signature(model.compile).parameters
             if p.endswith("optimizer")]
    model.compile(**{n: keras.optimizers.SGD(LEARNING_RATE) for n in names})


def corrupts(model):
    """Whether `model` overrides `corrupt_input` (draws input noise)."""
    own = getattr(type(model), "corrupt_input", None)
    return own is not None and own is not Autoencoder.corrupt_input


def fix_draws(model):
    """Replaces random draws by fixed values, the same on every shard.

    One device draws noise of shape (16, ...) once; two replicas draw two
    (8, ...) blocks, so the draws can only match if they are fixed.
    """
    if corrupts(model):
        model.corrupt_input = lambda x, training: x * 0.7 if training else x
    if hasattr(model, "sample_code"):
        eps = ops.convert_to_tensor(np.linspace(-1, 1, model.latent_dim),
                                    "float32")
        model.sample_code = lambda mean, log_var: (
            mean + ops.exp(0.5 * log_var) * eps)
    if hasattr(model, "sample_prior"):
        z = ops.convert_to_tensor(np.linspace(-0.5, 1, model.latent_dim),
                                  "float32")
        model.sample_prior = lambda n, labels=None, seed=None: (
            ops.zeros((n, model.latent_dim)) + z)


class MeanLossAutoencoder(Autoencoder):
    """Control: the per-replica mean GUIDE.md warns about."""

    def scaled_loss(self, terms):
        return tf.reduce_mean(terms.reconstruction + terms.per_example)


class LocalSparseAutoencoder(SparseAutoencoder):
    """Control: rho_hat of the replica's shard, not of the global batch."""

    def regularizer(self, code, stats):
        from kerasae.models import losses
        rho_hat = ops.mean(code, axis=0)
        penalty = self.config.sparsity_weight * losses.sparsity_kl(
            self.config.sparsity_target, rho_hat)
        return ops.zeros_like(code[:, 0]), penalty, {}


def one_step(build, strategy, weights, x):
    with strategy.scope():
        model = build()
        compile_sgd(model)
    fix_draws(model)
    model.set_weights(weights)
    ds = tf.data.Dataset.from_tensor_slices(x)
    if model.uses_labelled_subset:
        # Each step's labelled batch: the same examples, their labels.
        labels = np.arange(len(x)) % model.config.num_classes
        ds = tf.data.Dataset.from_tensor_slices((x, (x, labels)))
    ds = ds.batch(GLOBAL_BATCH)
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False).history
    return ([v.numpy() for v in model.trainable_variables],
            {k: float(v[-1]) for k, v in history.items()})


def compare(build, mirrored, x):
    """Relative errors of one mirrored step against one single step."""
    keras.utils.set_random_seed(0)
    start = build()
    initial = start.get_weights()
    before = [v.numpy() for v in start.trainable_variables]
    single, single_logs = one_step(
        build, tf.distribute.get_strategy(), initial, x)
    mirror, mirror_logs = one_step(build, mirrored, initial, x)
    flat = np.concatenate  # noqa: E731
    s = flat([w.ravel() for w in single])
    m = flat([w.ravel() for w in mirror])
    b = flat([w.ravel() for w in before])
    return {
        "weights_rel_error": float(np.linalg.norm(m - s) / np.linalg.norm(s)),
        "update_rel_error": float(
            np.linalg.norm(m - s) / np.linalg.norm(s - b)),
        "metric_rel_error": {
            k: float(abs(mirror_logs[k] - v) / max(abs(v), 1e-12))
            for k, v in single_logs.items()},
    }


def replica_draws(model, mirrored):
    """Each replica's random draws, twice, for every sampling hook."""
    n = GLOBAL_BATCH // 2
    hooks = {}
    if corrupts(model):
        hooks["corrupt_input"] = lambda: model.corrupt_input(
            ops.zeros((n, FEATURES)) + 0.5, training=True)
    if hasattr(model, "sample_code"):
        hooks["sample_code"] = lambda: model.sample_code(
            ops.zeros((n, 3)), ops.zeros((n, 3)))
    if hasattr(model, "sample_prior"):
        hooks["sample_prior"] = lambda: model.sample_prior(n)
    out = {}
    for hook, draw in hooks.items():
        run = tf.function(lambda: mirrored.run(draw))  # noqa: B023
        first = mirrored.experimental_local_results(run())
        second = mirrored.experimental_local_results(run())
        out[hook] = {
            "identical_across_replicas": bool(np.allclose(
                first[0].numpy(), first[1].numpy())),
            "repeats_between_steps": bool(np.allclose(
                first[0].numpy(), second[0].numpy())),
        }
    return out


def step_checks():
    mirrored = distribute.get_strategy("mirrored", 2)
    x = np.random.default_rng(1).uniform(
        size=(GLOBAL_BATCH, FEATURES)).astype("float32")
    result = {"replicas": mirrored.num_replicas_in_sync, "models": {},
              "draws": {}}
    for case, name, overrides in step_cases():
        result["models"][case] = compare(
            lambda: models.build(model_config(name, **overrides)),
            mirrored, x)
        with mirrored.scope():
            sampler = models.build(
                model_config(name, noise_level=0.3, **overrides))
        result["draws"][case] = replica_draws(sampler, mirrored)
    result["controls"] = {
        "reduce_mean": compare(
            lambda: MeanLossAutoencoder(model_config("ae")), mirrored, x),
        "local_rho_hat": compare(
            lambda: LocalSparseAutoencoder(model_config("sparse_ae")),
            mirrored, x),
    }
    return result


def tiny_config(dataset, name, **train):
    train = {"epochs": 3, "batch_size": 16, **train}
    return Config(
        model=ModelConfig(name=name, hidden_units=(16,), latent_dim=3),
        data=DataConfig(dataset=dataset, validation_fraction=0.2),
        train=TrainConfig(**train))


def train_checks(data, root):
    from kerasae.errors import ConfigError
    result = {}
    for name in ("ae", "sparse_ae"):
        losses = {}
        for strategy in ("default", "mirrored"):
            config = tiny_config(data, name, strategy=strategy,
                                 cpu_devices=2)
            metrics = training.train(
                config, os.path.join(root, f"{name}-{strategy}"), verbose=0)
            losses[strategy] = metrics[metrics["eval_split"]]["loss"]
        result[name] = losses
    try:
        training.train(tiny_config(data, "ae", strategy="mirrored",
                                   cpu_devices=2, batch_size=15),
                       os.path.join(root, "odd"), verbose=0)
        result["odd_batch_error"] = None
    except ConfigError as error:
        result["odd_batch_error"] = str(error)
    workdir = os.path.join(root, "resumed")
    config = tiny_config(data, "ae", strategy="mirrored", cpu_devices=2)
    try:
        training.train(config, workdir, callbacks=[StopAfter(1)], verbose=0)
    except KeyboardInterrupt:
        pass
    epochs = CountEpochs()
    metrics = training.train(config, workdir, callbacks=[epochs], verbose=0)
    result["resume"] = {"epochs": epochs.epochs,
                        "loss": metrics[metrics["eval_split"]]["loss"]}
    return result


class KeepModel(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        KeepModel.model_ = self.model


def worker_run(data, workdir):
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    config = tiny_config(data, "sparse_ae", epochs=2,
                         strategy="multi_worker_mirrored")
    metrics = training.train(config, workdir, callbacks=[KeepModel()],
                             verbose=0)
    weights = [v.numpy().tolist() for v in
               KeepModel.model_.trainable_variables]
    return {"task": task, "metrics": metrics, "weights": weights,
            "replicas": KeepModel.model_.distribute_strategy
            .num_replicas_in_sync}


def stream_worker_run(data, workdir):
    """A multi-worker run streaming a `.npy` file; records the shard each
    training pipeline was built for."""
    import dataclasses

    from kerasae.data.split import Split
    shards = []
    build = Split.dataset

    def recording(self, *args, **kwargs):
        if kwargs.get("shuffle"):  # the training pipeline
            shards.append(kwargs.get("shard"))
        return build(self, *args, **kwargs)

    Split.dataset = recording
    config = tiny_config(data, "ae", epochs=2,
                         strategy="multi_worker_mirrored")
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, data_path="stream"))
    metrics = training.train(config, workdir, callbacks=[KeepModel()],
                             verbose=0)
    weights = [v.numpy().tolist() for v in
               KeepModel.model_.trainable_variables]
    return {"metrics": metrics, "weights": weights, "shards": shards}


def main():
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "step":
        result = step_checks()
    elif mode == "train":
        result = train_checks(sys.argv[3], sys.argv[4])
    elif mode == "local":
        result = {"step": step_checks(),
                  "train": train_checks(sys.argv[3], sys.argv[4])}
    elif mode == "worker":
        result = worker_run(sys.argv[3], sys.argv[4])
    elif mode == "stream_worker":
        result = stream_worker_run(sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    with open(out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
