"""The conditional VAE on MNIST: are the samples of digit c a c?

    python bench/cvae_mnist.py --epochs=10

Trains `python train.py --model=vae --conditional` (train.py's VAE,
784-400-20 on grey-level MNIST, with the one-hot digit given to the
encoder and the decoder) for `--epochs`, then draws `--per_class` samples
of each digit from the prior N(0, I) with that digit as the label, and
lets a classifier of real digits (multinomial logistic regression on the
pixels, fitted on `--classifier_examples` training digits;
`kerasae.evaluation.conditional`) label them. The figure is the share of
samples it gives the digit they were drawn for (chance: 10%), overall and
per digit, beside the classifier's accuracy on the real test digits. The
samples, one row per digit, are drawn to `RUN/plots/samples.png` by the
evaluation. The run lives in `--workdir` (a finished run is only
evaluated); the result goes to `bench/results/cvae_mnist.json`.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from bench import benchlib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 10, "Training epochs.")
flags.DEFINE_integer("per_class", 500, "Samples drawn for each digit.")
flags.DEFINE_integer("classifier_examples", 20000, "Training digits the "
                     "classifier is fitted on (0: all 60,000).")
flags.DEFINE_string("workdir", "runs/cvae_mnist", "Run folder.")


def main(argv):
    del argv
    machine = benchlib.start(0, "inter_op")
    from kerasae import data as kae_data
    from kerasae import evaluation
    from kerasae import training
    from kerasae.config import Config
    from kerasae.config import ModelConfig
    from kerasae.config import TrainConfig
    from kerasae.evaluation import conditional

    config = Config(model=ModelConfig(name="vae", conditional=True),
                    train=TrainConfig(epochs=FLAGS.epochs,
                                      thread_pools="inter_op"))
    started = time.time()
    training.train(config, FLAGS.workdir, verbose=2)
    train_seconds = round(time.time() - started, 1)
    evaluation.evaluate_run(FLAGS.workdir, evaluation.EvalOptions(
        iwae_k=0, probes=False))
    config, model, _ = training.load_run(FLAGS.workdir)
    bundle = kae_data.load(config.data, seed=config.train.seed)
    test = bundle.eval_split
    result = conditional.sample_label_accuracy(
        model, bundle.train.x, bundle.train.y, per_class=FLAGS.per_class,
        train_examples=FLAGS.classifier_examples,
        test=(test.x, test.y))
    metrics = json.load(open(os.path.join(FLAGS.workdir, "metrics.json")))
    result.update({
        "command": f"python bench/cvae_mnist.py --epochs={FLAGS.epochs} "
                   f"--per_class={FLAGS.per_class} --classifier_examples="
                   f"{FLAGS.classifier_examples}",
        "epochs": FLAGS.epochs,
        "test_neg_elbo": metrics.get("test", {}).get("neg_elbo"),
        "train_seconds": train_seconds,
        "machine": machine,
    })
    benchlib.save_result("cvae_mnist", result)


if __name__ == "__main__":
    app.run(main)
