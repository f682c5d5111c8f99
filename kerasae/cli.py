"""Command-line flags generated from the config dataclasses, and the one
`main` wrapper the scripts share.

Each field of `ModelConfig`, `DataConfig` and `TrainConfig` is written with
`kerasae.config.option`, which keeps its flag's help text and choices
beside its default; `define_flags` turns them into absl flags (an enum for
choices, else by the field's type) and `config_from_flags` reads them back
into a `Config`. A new option is therefore written once, in
`kerasae/config.py`.

    cli.define_flags()
    main = cli.run_main(lambda: training.train(cli.config_from_flags(), ...))
    app.run(main)

`run_main` gives every script the same behaviour: TFDS and SavedModel INFO
logs hidden, extra arguments refused, and a `KerasaeError` printed as one
`error: ...` line on stderr with exit status 2.
"""

import dataclasses
import functools
import importlib
import json
import os
import sys
import types
import typing

from absl import app
from absl import flags
from absl import logging

from kerasae import config as kae_config
from kerasae.errors import ConfigError
from kerasae.errors import KerasaeError
from kerasae.models import priors

SECTIONS = {f.name: f.default_factory
            for f in dataclasses.fields(kae_config.Config)}
"""The `Config` sections and their dataclasses: model, data, train."""


def run_main(fn):
    """Wraps `fn()` as the `main(argv)` that `absl.app.run` calls.

    Args:
        fn: the script's body, taking no arguments (it reads the flags).

    Returns:
        `main(argv)`: refuses positional arguments (`app.UsageError`), sets
        absl logging to WARNING and runs `fn` (its result is dropped:
        `app.run` would exit with it); a `KerasaeError` becomes
        `error: <message>` on stderr and exit status 2.
    """
    @functools.wraps(fn)
    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(
                f"unexpected arguments: {' '.join(argv[1:])}")
        # TFDS logs every dataset it opens, SavedModel writing every file,
        # at INFO; users want the progress and the summary.
        logging.set_verbosity(logging.WARNING)
        try:
            fn()
        except KerasaeError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
    return main


def run(main, doc=None, flag_values=flags.FLAGS):
    """Runs a script's `main` with `absl.app.run`, as a console script too.

    absl's `--help` lists the flags of the main module, but the scripts'
    flags are defined in `kerasae` modules (`define_flags` here, the rest
    in `kerasae.scripts`); they are made the main module's key flags.

    Args:
        main: a `run_main` result.
        doc: usage text for `--help` when the main module has none (a
            console script's generated wrapper).
        flag_values: the `FlagValues` the script defined its flags in.
    """
    for module, defined in flag_values.flags_by_module_dict().items():
        if module.startswith("kerasae"):
            for flag in defined:
                flag_values.register_key_flag_for_module(sys.argv[0], flag)
    entry = sys.modules["__main__"]
    if doc and not entry.__doc__:
        entry.__doc__ = doc
    app.run(main)


# ------------------------------------------------------------ definitions
def has_flag(field):
    """Whether `field` gets a flag (fields filled from the data do not)."""
    return field.metadata.get("flag") is not False


def flag_name(field):
    """The flag of `field`: its `option(flag=...)`, else its name."""
    return field.metadata.get("flag") or field.name


def define_flags(dataclass_types=tuple(SECTIONS.values()),
                 flag_values=flags.FLAGS):
    """Defines an absl flag for every field of `dataclass_types`.

    A field with choices becomes `DEFINE_enum` (absl rejects a typo before
    anything runs); otherwise the type decides: bool, int, float, str,
    tuple (a comma list of whole numbers, of numbers for a
    `tuple[float, ...]`, of names for a `tuple[str, ...]`) and dict
    (`key=number` pairs). Optional types default to None.

    Args:
        dataclass_types: dataclasses whose fields were written with
            `kerasae.config.option`.
        flag_values: the `FlagValues` to define them in.

    Raises:
        TypeError: a field has no help text (it was not written with
            `option`), or a type no flag kind fits.
    """
    for cls in dataclass_types:
        for field in dataclasses.fields(cls):
            if has_flag(field):
                _define(cls, field, flag_values)


def _define(cls, field, flag_values):
    name, help_text = flag_name(field), field.metadata.get("help")
    if not help_text:
        raise TypeError(
            f"{cls.__name__}.{field.name} has no help text: write it with "
            "kerasae.config.option(default, help), or flag=False for a "
            "field filled in from the data")
    default = _default(field)
    choices = _choices(field.metadata.get("choices"))
    kind, _ = _kind(field)
    common = dict(flag_values=flag_values)
    if choices:
        flags.DEFINE_enum(name, default, choices, help_text, **common)
    elif kind is bool:
        flags.DEFINE_boolean(name, default, help_text, **common)
    elif kind is int:
        flags.DEFINE_integer(name, default, help_text, **common)
    elif kind is float:
        flags.DEFINE_float(name, default, help_text, **common)
    elif kind is str:
        flags.DEFINE_string(name, default, help_text, **common)
    elif kind is tuple:
        flags.DEFINE_list(
            name, None if default is None else [str(v) for v in default],
            help_text, **common)
    elif kind is dict:
        flags.DEFINE_string(name, _pairs(default), help_text, **common)
    else:
        raise TypeError(
            f"{cls.__name__}.{field.name}: no flag kind for type "
            f"{field.type!r}")


def _default(field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _choices(choices):
    """A tuple of choices, or the names of the registry a path names."""
    if isinstance(choices, str):
        module, _, attribute = choices.rpartition(".")
        return getattr(importlib.import_module(module), attribute).names()
    return choices


def _kind(field):
    """(type, element type) of a field, through `Optional[...]`."""
    kind = field.type
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) \
            and len(args) == 1:
        kind, args = args[0], list(typing.get_args(args[0]))
    if typing.get_origin(kind) in (typing.Union, types.UnionType) \
            and args == [int, str]:  # a number or a word (`--window=auto`)
        return str, int
    origin = typing.get_origin(kind) or kind
    element = int
    if origin is tuple and args and args[0] in (float, str):
        element = args[0]
    return origin, element


def _pairs(mapping):
    return ",".join(f"{k}={v}" for k, v in (mapping or {}).items())


# ---------------------------------------------------------------- reading
def dataclass_from_flags(cls, flag_values=flags.FLAGS, base=None):
    """Builds a `cls` from the flags `define_flags` made for it.

    Args:
        cls: a dataclass whose flags are defined in `flag_values`.
        flag_values: parsed `FlagValues`.
        base: an instance to start from; then only the flags given on the
            command line (or assigned) replace its fields.

    Returns:
        A `cls` instance.

    Raises:
        ConfigError: a list flag holds something other than numbers, or a
            `key=number` flag is malformed.
    """
    values = values_from_flags(cls, flag_values, only_given=base is not None)
    if base is None:
        return cls(**values)
    return dataclasses.replace(base, **values)


def values_from_flags(cls, flag_values=flags.FLAGS, only_given=False):
    """The field values of `cls` that its flags hold, parsed.

    Args:
        cls: a dataclass whose flags are defined in `flag_values`.
        flag_values: parsed `FlagValues`.
        only_given: keep only the flags given on the command line (or
            assigned), not those left at their default.

    Returns:
        A dict from field name to value.
    """
    values = {}
    for field in dataclasses.fields(cls):
        if not has_flag(field):
            continue
        flag = flag_values[flag_name(field)]
        if only_given and flag.using_default_value:
            continue
        values[field.name] = _parse(field, flag)
    return values


def _parse(field, flag):
    kind, element = _kind(field)
    value = flag.value
    if kind is tuple and value is not None:
        try:
            return tuple(element(v) for v in value)
        except ValueError:
            what = "numbers" if element is float else "whole numbers"
            raise ConfigError(
                f"--{flag.name}={','.join(value)}: give comma-separated "
                f"{what}") from None
    if kind is dict:
        # The `key=number` syntax of `--prior_params`.
        return priors.parse_params(value)
    if kind is str and element is int and value is not None:
        # A number or a word: the number as an int, the word checked by
        # `kerasae.config.validate`.
        return int(value) if value.strip().lstrip("-").isdigit() \
            else value
    return value


def config_from_flags(flag_values=flags.FLAGS, base=None):
    """Builds the `Config` the flags describe.

    Args:
        flag_values: parsed `FlagValues` holding the `define_flags` flags.
        base: a `Config` to run again (`--config`); then only the flags
            given on the command line replace its fields (see `rerun`).

    Returns:
        A `Config` (data-dependent fields still to be resolved).

    Raises:
        ConfigError: a flag value cannot be parsed.
    """
    if base is None:
        return kae_config.Config(**{
            name: dataclass_from_flags(cls, flag_values)
            for name, cls in SECTIONS.items()})
    return rerun(base, {
        name: values_from_flags(cls, flag_values, only_given=True)
        for name, cls in SECTIONS.items()})


def rerun(config, changes):
    """`config` with `changes` applied, ready to be trained again.

    The fields filled in from the data (those without a flag) go back to
    their defaults, to be resolved again from the data. The loss and
    output activation the run resolved from its data go back to `auto`
    when the dataset changes. `hidden_units` follows a changed `arch`
    unless it is changed too.

    Args:
        config: a `Config`, usually a run's `config.json`.
        changes: `{section: {field: value}}`, e.g.
            `{"train": {"epochs": 3}}`.

    Returns:
        A new `Config`.
    """
    model = dict(changes.get("model", {}))
    data = changes.get("data", {})
    for field in dataclasses.fields(kae_config.ModelConfig):
        if not has_flag(field):
            model.setdefault(field.name, _default(field))
    if data.get("dataset", config.data.dataset) != config.data.dataset:
        for name in ("reconstruction_loss", "output_activation"):
            model.setdefault(name, "auto")
    if model.get("arch", config.model.arch) != config.model.arch:
        model.setdefault("hidden_units", None)
    sections = dict(changes, model=model)
    return dataclasses.replace(config, **{
        name: dataclasses.replace(getattr(config, name), **values)
        for name, values in sections.items()})


def load_config(path):
    """Reads a run's `config.json` (or the one in the folder `path`).

    Raises:
        ConfigError: no such file, not JSON, or fields this version does
            not know.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as error:
        raise ConfigError(
            f"--config={path}: cannot be read ({error.strerror}); give a "
            "run's config.json, e.g. --config=runs/vae-mnist/config.json"
        ) from None
    try:
        return kae_config.Config.from_json(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"--config={path} is not JSON ({error.msg}, line "
            f"{error.lineno}); give a run's config.json") from None
    except (AttributeError, TypeError) as error:
        raise ConfigError(
            f"--config={path} is not a kerasae config ({error})") from None


def default_workdir(config):
    """`runs/<model>-<dataset>`, the dataset's file or folder name."""
    dataset = os.path.basename(os.path.normpath(config.data.dataset))
    return os.path.join("runs", f"{config.model.name}-{dataset}")
