"""The categorical adversarial autoencoders (`--aae_mode`): semi-supervised
classification and clustering (Makhzani et al. 2015, Sections 5 and 6),
their phases, labelled subset, evaluation, export and refusals."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_callbacks import StopAfter

import kerasae
from kerasae import data as kae_data
from kerasae import evaluation
from kerasae import models
from kerasae import training
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.config import validate
from kerasae.errors import ConfigError
from kerasae.export import saved_model
from kerasae.export.litert_runner import LiteRTModel
from kerasae.training import labelled

CLASSES = 3


def templates(n, seed=0, swing=5.0):
    """Three classes in 30-D: a +-1 template per class, a shared "style"
    direction scaled by U(-swing, swing), and a little noise.

    With `swing` 5 the style moves each example far along one direction,
    so a classifier fitted on two examples per class draws tilted
    boundaries; the unlabelled examples show that the data is three
    parallel lines.
    """
    base = np.random.default_rng(123)
    centres = base.choice([-1.0, 1.0], size=(CLASSES, 30))
    shared = base.choice([-1.0, 1.0], size=30)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = (centres[y] + rng.uniform(-swing, swing, (n, 1)) * shared
         + 0.1 * rng.normal(size=(n, 30)))
    return x.astype("float32"), y


def config(mode, epochs=10, **data):
    # Clustering has no labels to anchor the categories: a faster
    # adversarial game makes q(y|x) one-hot within the 10 epochs.
    adversarial = 3e-3 if mode == "clustering" else 1e-3
    return Config(
        model=ModelConfig(
            name="aae", aae_mode=mode, hidden_units=(32,), latent_dim=1,
            discriminator_units=(16,),
            clusters=CLASSES if mode == "clustering" else None),
        data=DataConfig(**data),
        train=TrainConfig(epochs=epochs, batch_size=50, learning_rate=3e-3,
                          discriminator_learning_rate=adversarial,
                          generator_learning_rate=adversarial))


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    """A semi-supervised aae on 900 examples, 6 of them labelled, trained,
    evaluated and exported once: (workdir, export folder)."""
    root = tmp_path_factory.mktemp("semi")
    workdir, export_dir = str(root / "run"), str(root / "export")
    kerasae.train(config("semi_supervised", labelled_examples=6), workdir,
                  data=templates(900), verbose=0)
    evaluation.evaluate_run(workdir, evaluation.EvalOptions(probe_examples=200))
    saved_model.export(workdir, export_dir)
    return workdir, export_dir


def test_semi_supervised_beats_the_labelled_only_classifier(semi):
    workdir, _ = semi
    run = kerasae.load(workdir)
    x, y = templates(600, seed=5)
    semi_error = np.mean(run.classify(x).argmax(axis=1) != y)
    # The same model trained on the same 6 labelled examples alone, for
    # as many classification steps.
    keras.utils.set_random_seed(0)
    alone = training.build_for_training(run.config)
    bundle = kae_data.load(DataConfig(
        dataset=os.path.join(workdir, "data.npz")))
    chosen = labelled.choose(bundle.train.y, 6, 0, CLASSES)
    assert np.bincount(bundle.train.y[chosen]).tolist() == [2, 2, 2]
    # The run standardizes its inputs; the baseline sees them the same way.
    labelled_x = np.asarray(run.preprocessing.apply(bundle.train.x[chosen]))
    step = tf.function(alone.classification_phase)
    for _ in range(10 * 17):
        step(tf.constant(labelled_x), tf.constant(bundle.train.y[chosen]))
    alone_error = np.mean(np.asarray(alone.classify(
        run.preprocessing.apply(x))).argmax(axis=1) != y)
    assert semi_error < 0.05
    assert alone_error > semi_error + 0.1


def test_clustering_recovers_separated_classes(tmp_path):
    result = kerasae.train(config("clustering"), str(tmp_path / "run"),
                           data=templates(900, swing=0.5), verbose=0)
    figures = result[result["eval_split"]]
    assert figures["cluster_error"] < 0.05
    assert sorted(figures["cluster_labels"]) == [0, 1, 2]
    assert min(figures["cluster_sizes"]) > 0


def weights(network):
    return [np.array(w) for w in network.trainable_weights]


@pytest.mark.parametrize("phase, moves", [
    ("reconstruction_phase", {"encoder", "decoder"}),
    ("discriminator_phase", {"category_discriminator",
                             "style_discriminator"}),
    ("generator_phase", {"encoder"}),
    ("classification_phase", {"encoder"}),
])
def test_each_phase_moves_only_its_own_variables(phase, moves):
    keras.utils.set_random_seed(0)
    model = training.build_for_training(Config(model=dataclasses.replace(
        config("semi_supervised").model, input_shape=(30,),
        reconstruction_loss="mse", output_activation="linear",
        num_classes=CLASSES)))
    x, y = templates(16)
    parts = ("encoder", "decoder", "category_discriminator",
             "style_discriminator")
    before = {p: weights(getattr(model, p)) for p in parts}
    getattr(model, phase)(*((x, y) if phase == "classification_phase"
                            else (x,)))
    for part in parts:
        moved = any(not np.array_equal(a, b) for a, b in zip(
            before[part], weights(getattr(model, part))))
        assert moved == (part in moves), part


def test_classify_signature_run_and_tflite_agree(semi, tmp_path):
    workdir, export_dir = semi
    run = kerasae.load(workdir)
    assert run.model.can_classify and run.model.uses_labelled_subset
    x, _ = templates(40, seed=7)
    loaded = tf.saved_model.load(os.path.join(export_dir, "aae", "1"))
    served = loaded.signatures["classify"](x=tf.constant(x))
    np.testing.assert_allclose(served["probabilities"].numpy(),
                               run.classify(x), atol=1e-6)
    np.testing.assert_array_equal(served["class"].numpy(),
                                  run.classify(x).argmax(axis=1))
    # The exported encoder gives both codes, and the code they make.
    codes = loaded.signatures["encode"](x=tf.constant(x))
    np.testing.assert_allclose(codes["class_probabilities"].numpy(),
                               run.classify(x), atol=1e-6)
    assert codes["style"].shape == (40, 1)
    np.testing.assert_allclose(codes["code"].numpy(), run.encode(x),
                               atol=1e-6)
    written = saved_model.export(workdir, str(tmp_path),
                                 formats=("tflite",))
    encoder = LiteRTModel(next(p for p in written["tflite"]
                               if p.endswith("encoder.tflite")))
    lite = encoder.encode(x)
    np.testing.assert_allclose(lite["class_probabilities"],
                               run.classify(x), atol=1e-5)
    assert lite["style"].shape == (40, 1)


def test_evaluation_reports_classes_and_draws_style_and_content(semi):
    workdir, _ = semi
    with open(os.path.join(workdir, "metrics.json")) as handle:
        written = json.load(handle)
    evaluation = written["evaluation"]
    assert evaluation["test_error"] < 0.05
    assert sum(evaluation["cluster_sizes"]) == evaluation["num_examples"]
    assert written["validation"]["test_error"] < 0.05  # after training
    assert "style_content.png" in written["plots"]
    assert os.path.exists(os.path.join(workdir, "plots",
                                       "style_content.png"))


def test_a_resumed_semi_supervised_run_ends_with_the_same_numbers(
        tmp_path):
    cfg = config("semi_supervised", epochs=2, labelled_examples=6)
    data = templates(200)
    whole = kerasae.train(cfg, str(tmp_path / "whole"), data=data,
                          verbose=0)
    workdir = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        training.train(cfg, workdir, data=data, callbacks=[StopAfter(1)],
                       verbose=0)
    resumed = training.train(cfg, workdir, data=data, verbose=0)
    assert resumed["validation"] == whole["validation"]


def test_the_labelled_subset_is_balanced_and_seeded():
    y = np.repeat(np.arange(4), [50, 30, 20, 10])
    chosen = labelled.choose(y, 10, seed=1)
    assert sorted(np.bincount(y[chosen]).tolist()) == [2, 2, 3, 3]
    np.testing.assert_array_equal(chosen,
                                  labelled.choose(y, 10, seed=1))
    assert not np.array_equal(chosen, labelled.choose(y, 10, 2))
    assert len(labelled.choose(y, None, 0)) == len(y)


@pytest.mark.parametrize("model, data, message", [
    (dict(name="vae", aae_mode="clustering"), {},
     "--aae_mode=clustering applies to --model=aae only, not --model=vae"),
    (dict(name="ae", aae_mode="semi_supervised"), {},
     "applies to --model=aae only, not --model=ae"),
    (dict(aae_mode="clustering", clusters=1), {},
     "--clusters=1: give at least 2 clusters, e.g. --clusters=16"),
    (dict(aae_mode="standard", clusters=8), {},
     "--clusters applies to --aae_mode=clustering, not "
     "--aae_mode=standard"),
    (dict(aae_mode="clustering"), dict(labelled_examples=10),
     "--labelled_examples applies to --aae_mode=semi_supervised"),
    (dict(aae_mode="semi_supervised"), dict(labelled_examples=0),
     "--labelled_examples=0: keep at least one label per class"),
    (dict(aae_mode="semi_supervised", supervised=True), {},
     "infers the class itself: drop --aae_supervised"),
    (dict(aae_mode="semi_supervised"), dict(binarize="dynamic"),
     "not the labelled subset of --aae_mode=semi_supervised; use "
     "--binarize=static"),
])
def test_bad_settings_are_refused_before_anything_loads(model, data,
                                                        message):
    cfg = Config(model=ModelConfig(**{"name": "aae", **model}),
                 data=DataConfig(**data))
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("labelled, with_labels, message", [
    (None, False, "--aae_mode=semi_supervised needs labelled data with at "
     "least 2 classes (found 0): use a dataset with labels, or "
     "--aae_mode=clustering"),
    (1000, True, "--labelled_examples=1000 is more than the 270 labelled "
     "training examples; give fewer"),
    (2, True, "--labelled_examples=2 is fewer than one per class (3 "
     "classes); give at least 3"),
])
def test_bad_labelled_subsets_are_refused(tmp_path, labelled, with_labels,
                                          message):
    x, y = templates(300)
    with pytest.raises(ConfigError) as error:
        kerasae.train(config("semi_supervised", labelled_examples=labelled),
                      str(tmp_path / "run"),
                      data=(x, y) if with_labels else x, verbose=0)
    assert str(error.value) == message


def test_models_say_what_they_can_do():
    built = {}
    for mode in ("standard", "semi_supervised", "clustering"):
        cfg = dataclasses.replace(
            config(mode).model, input_shape=(30,), num_classes=CLASSES,
            reconstruction_loss="mse", output_activation="linear")
        built[mode] = models.build(cfg)
    assert not built["standard"].can_classify
    assert built["clustering"].can_classify
    assert not built["clustering"].uses_labelled_subset
    assert built["semi_supervised"].uses_labelled_subset
    # The code is both: K category probabilities, then the style.
    assert built["semi_supervised"].latent_dim == CLASSES + 1


def test_semi_supervised_trains_on_streamed_data(tmp_path):
    x, y = templates(200)
    path = tmp_path / "templates.csv"
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header,
               comments="", fmt="%.5g")
    cfg = config("semi_supervised", epochs=2, labelled_examples=6,
                 dataset=str(path), label_column="label",
                 data_path="stream")
    result = kerasae.train(cfg, str(tmp_path / "run"), verbose=0)
    assert result["data_path"] == "stream"
    figures = result[result["eval_split"]]
    assert 0 <= figures["test_error"] <= 1
    assert sum(figures["cluster_sizes"]) == figures["sample_size"]
