"""Burda et al. (2016), Table 1, one stochastic layer, on binarized MNIST.

    python bench/reproduce_iwae.py --objective=vae --epochs=60
    python bench/reproduce_iwae.py --objective=iwae5 --epochs=60

Trains the paper's model, a 784-200-200-50 tanh encoder with the decoder
mirrored and the output bias at the logit of the training mean, on
dynamically binarized MNIST with Adam (beta_1 0.9, beta_2 0.999, epsilon
1e-4) and their learning-rate schedule (stage i: 3^i epochs at
1e-3 * 10^(-i/7)); `--epochs` below 3,280 keeps the stages' shares of the
run, i.e. the same schedule shortened. Objective `vae` is the ELBO (k = 1),
`iwae5` the importance-weighted bound with k = 5. Then the test NLL is
estimated with the IWAE bound at `--eval_k` (5,000 in the paper) on the
first `--eval_examples` test digits (0: all 10,000), binarized once with a
fixed seed, and the active units are counted (Section 5.2). All 60,000
training digits are trained on (no validation split held out), as in the
paper.

The paper's figures: VAE 86.76, IWAE (k = 5) 85.54 nats, at batch 20 for
3,280 epochs. The run lives in `--workdir_root/<objective>`; interrupted, it
resumes from there, and a finished run is only evaluated. The result goes
to `bench/results/iwae_<objective>_<epochs>ep.json`.
"""

import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from bench import benchlib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("objective", "vae", ["vae", "iwae5"], "ELBO or k=5 IWAE.")
flags.DEFINE_integer("epochs", 60, "Training epochs (the paper: 3,280).")
flags.DEFINE_integer("batch_size", 100, "Batch size (the paper: 20).")
flags.DEFINE_integer("eval_k", 5000, "Importance samples of the test NLL.")
flags.DEFINE_integer("eval_examples", 1000, "Test digits (0: all).")
flags.DEFINE_string("workdir_root", "runs/reproduce_iwae", "Run folders.")
flags.DEFINE_boolean("partial", False, "Do not train: evaluate the latest "
                     "epoch checkpoint of a run still in progress (the "
                     "result file then says which epoch).")

PAPER = {"vae": 86.76, "iwae5": 85.54}


def config(objective, epochs, batch_size):
    """The paper's setup as a kerasae `Config`."""
    from kerasae import config as kae_config
    return kae_config.Config(
        model=kae_config.ModelConfig(
            name="vae", hidden_units=(200, 200), latent_dim=50,
            activation="tanh", reconstruction_loss="bce",
            iwae_samples=5 if objective == "iwae5" else 1,
            output_bias="data_mean"),
        data=kae_config.DataConfig(dataset="mnist", binarize="dynamic",
                                   validation_fraction=0.0),
        train=kae_config.TrainConfig(
            epochs=epochs, batch_size=batch_size, learning_rate=1e-3,
            lr_schedule="iwae", adam_epsilon=1e-4, thread_pools="inter_op",
            matmul_precision="float32"),
    )


def latest_checkpoint(workdir):
    """The model of `workdir` at its latest epoch checkpoint, and the epoch.
    """
    import glob

    from kerasae import config as kae_config
    from kerasae import models
    from kerasae import workdir as wd
    config = kae_config.Config.from_dict(wd.read_json(workdir, wd.CONFIG))
    paths = sorted(glob.glob(os.path.join(workdir, wd.CHECKPOINTS,
                                          "epoch-*.weights.h5")))
    if not paths:
        raise SystemExit(f"{workdir} has no epoch checkpoint yet")
    model = models.build(config.model)
    model.load_weights(paths[-1])
    return model, int(os.path.basename(paths[-1])[6:9])


def main(argv):
    del argv
    machine = benchlib.start(0, "inter_op")
    from kerasae import data as kae_data
    from kerasae import evaluation
    from kerasae import training

    cfg = config(FLAGS.objective, FLAGS.epochs, FLAGS.batch_size)
    workdir = os.path.join(FLAGS.workdir_root, FLAGS.objective)
    started = time.time()
    if FLAGS.partial:
        model, epoch = latest_checkpoint(workdir)
        train_metrics = {"train_seconds": None}
    else:
        train_metrics = training.train(cfg, workdir)
        _, model, _ = training.load_run(workdir)
        epoch = FLAGS.epochs
    bundle = kae_data.load(cfg.data, seed=cfg.train.seed)
    test = bundle.test.x[:FLAGS.eval_examples or len(bundle.test.x)]
    eval_started = time.time()
    nll = evaluation.nll_estimate(model, test, FLAGS.eval_k,
                                  bundle.binarize)
    eval_seconds = time.time() - eval_started
    units, _ = evaluation.active_units(model, bundle.test.x)
    result = {
        "objective": FLAGS.objective,
        "protocol": "dynamic binarization, 784-200-200-50 tanh, Adam "
                    "eps 1e-4, IWAE lr schedule shortened to --epochs",
        "command": " ".join(["python bench/reproduce_iwae.py",
                             f"--objective={FLAGS.objective}",
                             f"--epochs={FLAGS.epochs}",
                             f"--batch_size={FLAGS.batch_size}",
                             f"--eval_k={FLAGS.eval_k}",
                             f"--eval_examples={FLAGS.eval_examples}"]),
        "epochs": FLAGS.epochs,
        "epochs_trained": epoch,
        "batch_size": FLAGS.batch_size,
        "train_seconds": train_metrics.get("train_seconds"),
        "eval_seconds": round(eval_seconds, 1),
        "test_neg_elbo_k1": float(evaluation.negative_elbo(model, test)
                                  .mean()),
        **nll,
        "active_units": units,
        "paper_nll": PAPER[FLAGS.objective],
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine,
    }
    suffix = f"_epoch{epoch}" if FLAGS.partial else ""
    benchlib.save_result(
        f"iwae_{FLAGS.objective}_{FLAGS.epochs}ep{suffix}", result)


if __name__ == "__main__":
    app.run(main)
