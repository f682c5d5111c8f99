"""`kerasae.cli`: flags generated from the config dataclasses, `--config`
reruns, the arch's own `hidden_units`, the built-model summary line, the
one `main` wrapper and the console scripts.

Flags are defined into a fresh `FlagValues` per test, so nothing here
touches the global flags the scripts define (a process imports one script).
"""

import dataclasses
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
import setuptools
from absl import app
from absl import flags
from conftest import REPO
from sample_data import blob_images

from kerasae import cli
from kerasae import models
from kerasae import training
from kerasae.config import ARCH_HIDDEN_UNITS
from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import ModelConfig
from kerasae.config import TrainConfig
from kerasae.config import option
from kerasae.errors import ConfigError
from kerasae.evaluation import EvalOptions
from kerasae.training import describe

# The flags train.py defined by hand before they were generated: their
# names must not change (scripts and docs use them).
TRAIN_FLAGS_BEFORE = {
    "model", "arch", "hidden_units", "latent_dim", "reconstruction_loss",
    "activation", "output_activation", "noise", "noise_level", "sparsity",
    "sparsity_target", "sparsity_weight", "beta", "prior", "prior_params",
    "aae_supervised", "discriminator_units", "discriminator_learning_rate",
    "generator_learning_rate", "dataset", "data_dir", "label_column",
    "validation_fraction", "train_classes", "epochs", "batch_size",
    "learning_rate", "seed", "steps_per_epoch", "strategy", "cpu_devices",
    "steps_per_execution", "jit_compile", "matmul_precision",
    "thread_pools",
}
DATA_FIELDS = {"input_shape", "data_range", "num_classes"}


def parsed(*argv, types=tuple(cli.SECTIONS.values())):
    """A fresh `FlagValues` with the generated flags, parsed from argv."""
    values = flags.FlagValues()
    cli.define_flags(types, flag_values=values)
    values(["prog", *argv])
    return values


# ------------------------------------------------------------ definitions
def test_every_field_has_a_flag_with_its_help_or_is_from_the_data():
    values = parsed()
    seen = set()
    for cls in cli.SECTIONS.values():
        for field in dataclasses.fields(cls):
            if field.name in DATA_FIELDS:
                assert not cli.has_flag(field), field.name
                continue
            name = cli.flag_name(field)
            assert field.metadata["help"], field.name
            # An enum's help starts with its choices: <dense|conv>: ...
            assert values[name].help.endswith(field.metadata["help"])
            seen.add(name)
    assert TRAIN_FLAGS_BEFORE <= seen
    assert not DATA_FIELDS & set(values)


def test_flag_defaults_are_the_dataclass_defaults():
    assert cli.config_from_flags(parsed()) == Config()
    evaluate = parsed(types=[EvalOptions])
    assert cli.dataclass_from_flags(EvalOptions, evaluate) == EvalOptions()


def test_every_kind_of_flag_reaches_its_field():
    config = cli.config_from_flags(parsed(
        "--model=aae", "--hidden_units=8,4", "--aae_supervised",
        "--prior=mixture", "--prior_params=k=10,std=0.5",
        "--discriminator_units=16", "--train_classes=0,6",
        "--label_column=status", "--steps_per_epoch=5", "--jit_compile",
        "--learning_rate=0.01", "--matmul_precision=float32"))
    m, d, t = config.model, config.data, config.train
    assert (m.name, m.hidden_units, m.supervised) == ("aae", (8, 4), True)
    assert (m.prior, m.prior_params) == ("mixture", {"k": 10, "std": 0.5})
    assert m.discriminator_units == (16,)
    assert (d.train_classes, d.label_column) == ((0, 6), "status")
    assert (t.steps_per_epoch, t.jit_compile) == (5, True)
    assert (t.learning_rate, t.matmul_precision) == (0.01, "float32")
    options = cli.dataclass_from_flags(EvalOptions, parsed(
        "--normal_classes=0", "--noplots", "--quantile=0.9",
        types=[EvalOptions]))
    assert (options.normal_classes, options.plots) == ((0,), False)
    assert options.quantile == 0.9


def test_model_and_prior_choices_come_from_the_registries():
    values = parsed()
    assert values["model"].parser.enum_values == models.MODELS.names()
    assert "mixture" in values["prior"].parser.enum_values


@pytest.mark.parametrize("argv, shown", [
    ("--model=vea", "aae|ae|dae|gan|sparse_ae|vae"),
    ("--arch=cnn", "dense|conv"),
    ("--prior=gausian", "gaussian"),
    ("--thread_pools=many", "auto|tensorflow|inter_op"),
])
def test_absl_rejects_a_choice_typo_while_parsing(argv, shown):
    with pytest.raises(flags.IllegalFlagValueError, match=shown):
        parsed(argv)


@pytest.mark.parametrize("argv, message", [
    ("--hidden_units=32,x",
     "--hidden_units=32,x: give comma-separated whole numbers"),
    ("--train_classes=zero",
     "--train_classes=zero: give comma-separated whole numbers"),
    ("--prior_params=std",
     "--prior_params: 'std' is not key=value, e.g. "
     "--prior_params=std=1.0,k=10"),
])
def test_a_malformed_list_is_a_config_error(argv, message):
    with pytest.raises(ConfigError) as error:
        cli.config_from_flags(parsed(argv))
    assert str(error.value) == message


def test_a_field_without_help_text_gets_no_silent_flag():
    @dataclasses.dataclass(frozen=True)
    class Plain:
        window: int = 3

    with pytest.raises(TypeError, match="Plain.window has no help text"):
        cli.define_flags([Plain], flag_values=flags.FlagValues())


def test_float_tuples_and_optional_fields_get_their_kinds():
    @dataclasses.dataclass(frozen=True)
    class Extra:
        weights: tuple[float, ...] = option((0.5,), "Weights.")
        window: int | None = option(None, "Window.")

    values = parsed("--weights=1.5,2", types=[Extra])
    assert cli.dataclass_from_flags(Extra, values) == Extra((1.5, 2.0), None)


# ------------------------------------------------- the arch's own default
@pytest.mark.parametrize("argv, units", [
    ((), (400,)),
    (("--arch=conv",), (32, 64)),
    (("--arch=conv", "--hidden_units=16"), (16,)),
    (("--hidden_units=64,32",), (64, 32)),
])
def test_hidden_units_unset_follow_the_arch(argv, units):
    assert cli.config_from_flags(parsed(*argv)).model.hidden_units == units


def test_the_python_api_resolves_the_arch_default_the_same_way():
    assert ModelConfig(arch="conv").hidden_units == ARCH_HIDDEN_UNITS["conv"]
    assert ModelConfig().hidden_units == ARCH_HIDDEN_UNITS["dense"]
    assert ModelConfig(arch="conv", hidden_units=(8,)).hidden_units == (8,)
    written = Config(model=ModelConfig(arch="conv"))
    assert Config.from_json(written.to_json()) == written


# ---------------------------------------------------------- --config reruns
def run_config(**model):
    """A config as a finished run writes it: data fields resolved."""
    return Config(
        model=ModelConfig(name="ae", hidden_units=(32,), latent_dim=4,
                          reconstruction_loss="mse",
                          output_activation="linear",
                          input_shape=(8, 8, 1), data_range=(0.0, 1.0),
                          num_classes=2, **model),
        data=DataConfig(dataset="blobs.npz"),
        train=TrainConfig(epochs=1, batch_size=32))


def test_config_flags_given_override_and_defaults_do_not():
    base = run_config()
    # --latent_dim=20 is the flag's default, but given: it overrides.
    config = cli.config_from_flags(
        parsed("--epochs=3", "--latent_dim=20"), base=base)
    assert (config.train.epochs, config.model.latent_dim) == (3, 20)
    assert config.train.batch_size == 32  # not given: the run's value
    assert config.model.hidden_units == (32,)
    # The fields filled from the data are resolved again.
    assert (config.model.input_shape, config.model.num_classes) == ((), 0)
    # Same data: the resolved loss is kept (it may have been chosen).
    assert config.model.reconstruction_loss == "mse"


def test_config_with_new_data_resolves_loss_and_activation_again():
    config = cli.config_from_flags(parsed("--dataset=other.csv"),
                                   base=run_config())
    assert config.data.dataset == "other.csv"
    assert config.model.reconstruction_loss == "auto"
    assert config.model.output_activation == "auto"
    kept = cli.config_from_flags(
        parsed("--dataset=other.csv", "--reconstruction_loss=mse"),
        base=run_config())
    assert kept.model.reconstruction_loss == "mse"


def test_config_with_another_arch_takes_that_arch_default():
    conv = cli.config_from_flags(parsed("--arch=conv"), base=run_config())
    assert conv.model.hidden_units == (32, 64)
    sized = cli.config_from_flags(parsed("--arch=conv", "--hidden_units=8"),
                                  base=run_config())
    assert sized.model.hidden_units == (8,)


def test_config_reruns_a_trained_run_end_to_end(tmp_path, capsys):
    x, y = blob_images(160)
    np.savez(tmp_path / "blobs.npz", x=x, y=y)
    first = str(tmp_path / "first")
    training.train(Config(
        model=ModelConfig(name="ae", hidden_units=(32,), latent_dim=4),
        data=DataConfig(dataset=str(tmp_path / "blobs.npz")),
        train=TrainConfig(epochs=1, batch_size=32)), first, verbose=0)
    capsys.readouterr()
    base = cli.load_config(first)  # the folder finds its config.json
    second = str(tmp_path / "second")
    metrics = training.train(cli.config_from_flags(
        parsed("--epochs=2"), base=base), second, verbose=0)
    old, new = (json.load(open(os.path.join(run, "config.json")))
                for run in (first, second))
    assert old["train"].pop("epochs") == 1
    assert new["train"].pop("epochs") == 2
    assert new == old  # everything else, data fields resolved the same
    _, model, _ = training.load_run(second)
    line = (f"  built:    dense encoder 64-32-4, decoder 4-32-64, "
            f"{model.count_params():,} parameters")
    assert line in capsys.readouterr().out.splitlines()
    assert metrics["parameters"] == model.count_params()


@pytest.mark.parametrize("text, message", [
    (None, "cannot be read (No such file or directory)"),
    ("{not json", "is not JSON (Expecting property name"),
    ('{"model": {"bogus": 1}}', "unknown ModelConfig field(s) ['bogus']"),
    ("[1, 2]", "is not a kerasae config"),
])
def test_a_bad_config_file_is_one_clear_error(text, message, tmp_path):
    path = tmp_path / "config.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as error:
        cli.load_config(str(path))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


# ------------------------------------------------------------- the summary
def resolved(**fields):
    """A `ModelConfig` resolved as for [0, 1] data."""
    return ModelConfig(reconstruction_loss="bce", output_activation="sigmoid",
                       **fields)


def test_summary_line_names_layers_and_parameters(capsys, tmp_path):
    vae = models.build(resolved(input_shape=(28, 28, 1)))
    built = describe.describe_model(vae, "dense")
    assert built == "dense encoder 784-400-40, decoder 20-400-784"
    # 784*400+400 + 400*40+40 + 20*400+400 + 400*784+784
    assert vae.count_params() == 652_824
    metrics = {"model": "vae", "dataset": "mnist", "epochs": 1,
               "eval_split": "test", "test": {"loss": 1.0},
               "built": built, "parameters": vae.count_params()}
    training.print_summary(str(tmp_path), metrics)
    assert ("  built:    dense encoder 784-400-40, decoder 20-400-784, "
            "652,824 parameters") in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("config, line", [
    (resolved(arch="conv", input_shape=(28, 28, 1)),
     "conv encoder 28x28x1-32-64-40, decoder 20-3136-64-32-28x28x1"),
    (resolved(name="aae", hidden_units=(16,), latent_dim=2,
           discriminator_units=(8,), input_shape=(6,)),
     "dense encoder 6-16-2, decoder 2-16-6, discriminator 2-8-1"),
    (resolved(name="gan", hidden_units=(16,), latent_dim=2, input_shape=(6,)),
     "dense generator 2-16-6, discriminator 6-16-1"),
])
def test_summary_describes_every_kind_of_network(config, line):
    assert describe.describe_model(models.build(config), config.arch) == line


# ------------------------------------------------------- the main wrapper
def test_run_main_prints_one_error_line_and_exits_2(capsys):
    def fails():
        raise ConfigError("--epochs=0: must be greater than 0")

    with pytest.raises(SystemExit) as stop:
        cli.run_main(fails)(["prog"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == \
        "error: --epochs=0: must be greater than 0\n"


def test_run_main_refuses_extra_arguments_before_running():
    ran = []
    main = cli.run_main(lambda: ran.append(1))
    with pytest.raises(app.UsageError, match="unexpected arguments: extra"):
        main(["prog", "extra"])
    assert not ran
    assert main(["prog"]) is None and ran == [1]


def test_a_bad_prior_fails_before_the_data_loads_in_the_python_api():
    config = Config(model=ModelConfig(name="aae", prior="mixture",
                                      prior_params={"k": 0}),
                    data=DataConfig(dataset="/no/such/file.npz"))
    with pytest.raises(ConfigError, match="--prior=mixture: k=0 must be at "
                       "least 1"):
        training.train(config, "/no/such/workdir")


# ---------------------------------------------------------- console scripts
def setup_arguments(monkeypatch):
    """The keyword arguments setup.py passes to `setuptools.setup`."""
    captured = {}
    monkeypatch.setattr(setuptools, "setup", captured.update)
    monkeypatch.chdir(REPO)
    runpy.run_path(os.path.join(REPO, "setup.py"))
    return captured


def console_scripts(monkeypatch):
    entries = setup_arguments(monkeypatch)["entry_points"]["console_scripts"]
    return dict(e.replace(" ", "").split("=") for e in entries)


def test_setup_installs_console_scripts_not_top_level_modules(monkeypatch):
    arguments = setup_arguments(monkeypatch)
    assert "py_modules" not in arguments
    assert set(console_scripts(monkeypatch)) == {
        "kerasae-train", "kerasae-export", "kerasae-evaluate"}
    assert not {"train", "export"} & set(arguments["packages"])


@pytest.mark.parametrize("name, flag, usage", [
    ("kerasae-train", "--hidden_units", "kerasae-train --model=vae"),
    ("kerasae-export", "--quantize", "kerasae-export --workdir=runs/vae"),
    ("kerasae-evaluate", "--normal_classes", "kerasae-evaluate --workdir"),
])
def test_console_script_entry_points_run(name, flag, usage, monkeypatch):
    # What pip's generated wrapper does: load the entry point, call it.
    target = console_scripts(monkeypatch)[name]
    code = ("import sys; from importlib.metadata import EntryPoint; "
            f"sys.argv = [{name!r}, '--help']; "
            f"EntryPoint({name!r}, {target!r}, 'console_scripts').load()()")
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    # absl's --help prints the usage and exits with status 1.
    assert done.returncode == 1, done.stderr[-2000:]
    assert flag in done.stdout and usage in done.stdout


@pytest.mark.parametrize("value, window", [("48", 48), ("auto", "auto")])
def test_window_takes_a_number_or_auto(value, window):
    config = cli.config_from_flags(parsed(f"--window={value}"))
    assert config.data.window == window
