"""Trains an autoencoder: flags -> `Config` -> `kerasae.training.train`.

    kerasae-train --model=vae --dataset=mnist --workdir=runs/vae
    kerasae-train --config=runs/vae/config.json --epochs=20

The model, data and training flags are generated from the config
dataclasses (`kerasae.cli`); this module adds only where the run goes.
"""

from absl import flags

from kerasae import cli
from kerasae import training

FLAGS = flags.FLAGS

cli.define_flags()
flags.DEFINE_string(
    "config", None, "A run's config.json (or its workdir) to train again; "
    "flags given here replace single fields, and the fields that depend on "
    "the data are resolved again from it.")
flags.DEFINE_string("workdir", None, "Output folder (default: "
                    "runs/<model>-<dataset>).")
flags.DEFINE_boolean("overwrite", False,
                     "Replace a previous run in --workdir.")


def train():
    """Trains the run the flags describe."""
    base = cli.load_config(FLAGS.config) if FLAGS.config else None
    config = cli.config_from_flags(base=base)
    training.train(config, FLAGS.workdir or cli.default_workdir(config),
                   overwrite=FLAGS.overwrite)


main = cli.run_main(train)


def run():
    """The `kerasae-train` console script."""
    cli.run(main, __doc__)


if __name__ == "__main__":
    run()
