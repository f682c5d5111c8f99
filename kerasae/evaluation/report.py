"""`RUN/report.html`: one self-contained page of a run, to look at or send.

`publish(workdir, metrics)` (called once by `evaluate_run`) writes the
page and puts the evaluation's pictures and final figures in the run's
TensorBoard logs (`kerasae.evaluation.summaries`). The page holds what was
trained (the summary's lines and `config.json`), the metrics as tables
with a sentence saying what each means, the training curves and every
picture of `RUN/plots/` (PNG embedded as data URIs), the anomaly
threshold and what it flags and, for a series, an interactive chart of
the step scores (plotly, its JavaScript inlined): nothing is fetched when
the page opens, so it works offline and as an e-mail attachment.
"""

import base64
import html
import json
import math
import os

from kerasae import workdir as wd
from kerasae.evaluation import report_text
from kerasae.evaluation import summaries

REPORT = wd.REPORT
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;
vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.what{color:#555;font-size:.9em}
figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
.flag{background:#fff3f3;border-left:4px solid #d33;padding:.5em 1em}
"""


def publish(workdir, metrics):
    """Writes `RUN/report.html` and the TensorBoard summaries of a run.

    Args:
        workdir: the evaluated workdir.
        metrics: the merged `metrics.json` contents.

    Returns:
        The path of the report.
    """
    summaries.write(workdir, metrics)
    return write_report(workdir, metrics)


def write_report(workdir, metrics):
    """Writes `RUN/report.html` from the run's files; returns its path."""
    config = wd.read_json(workdir, wd.CONFIG) or {}
    threshold = wd.read_json(workdir, wd.THRESHOLD)
    title = (f"{metrics.get('model', 'model')} on "
             f"{os.path.basename(str(metrics.get('dataset', '')))}")
    parts = [f"<h1>kerasae run: {_e(title)}</h1>",
             f"<p>Workdir <code>{_e(os.path.abspath(workdir))}</code>. "
             "This page is self-contained: it needs no network.</p>",
             _trained(metrics, config), _metrics(metrics),
             _anomaly(workdir, metrics, threshold),
             _pictures(workdir, metrics), _files(workdir)]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n"
            "<body>\n" + "\n".join(p for p in parts if p)
            + "\n</body></html>\n")
    path = wd.path(workdir, REPORT)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(temporary, path)
    return path


def _e(value):
    return html.escape(str(value))


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _table(values, described=True):
    """A two- or three-column table of a metrics dict; nested dicts become
    tables inside their row."""
    rows = []
    for key, value in sorted(values.items()):
        if isinstance(value, dict):
            cell = _table(value, described=False)
        elif isinstance(value, list):
            cell = _e(", ".join(map(str, value)))
        else:
            cell = _number(value)
        kind = "num" if isinstance(value, (int, float)) else "text"
        what = (f"<td class=\"what\">{_e(report_text.describe(key))}</td>"
                if described else "")
        rows.append(f"<tr><th>{_e(key)}</th><td class=\"{kind}\">{cell}"
                    f"</td>{what}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _trained(metrics, config):
    precision = metrics.get("matmul_precision", "float32")
    lines = [f"{metrics.get('model')} on {metrics.get('dataset')}, "
             f"{metrics.get('epochs')} epochs"
             + ("" if precision == "float32"
                else f", trained with {precision} matmuls")]
    if "built" in metrics:
        lines.append(f"built: {metrics['built']}, "
                     f"{metrics.get('parameters', 0):,} parameters")
    if "train_seconds" in metrics:
        lines.append(f"trained in {metrics['train_seconds']} s")
    return ("<h2 id=\"trained\">What was trained</h2><pre>"
            + _e("\n".join(lines)) + "</pre><details><summary>config.json"
            " (every option of the run)</summary><pre>"
            + _e(json.dumps(config, indent=2, sort_keys=True))
            + "</pre></details>")


def _metrics(metrics):
    split = metrics.get("eval_split", "validation")
    parts = ["<h2 id=\"metrics\">Metrics</h2>"]
    if isinstance(metrics.get(split), dict):
        parts += [f"<h3>At the end of training, on the {_e(split)} split"
                  "</h3>", _table(metrics[split])]
    if isinstance(metrics.get("evaluation"), dict):
        parts += ["<h3>Evaluation</h3>", _table(metrics["evaluation"])]
    return "\n".join(parts)


def _anomaly(workdir, metrics, threshold):
    report = metrics.get("anomaly")
    if not isinstance(report, dict):
        return ""
    flagged = report.get("flagged_fraction")
    sentence = (f"The score <b>{_e(report.get('score'))}</b> flags what "
                f"lies above <b>{_number(report.get('threshold'))}</b> "
                f"(method {_e(report.get('method'))})")
    if flagged is not None:
        sentence += f": {100 * flagged:.2f}% of the scored data"
    if report.get("recall") is not None:
        sentence += (f", with precision {_number(report['precision'])} and "
                     f"recall {_number(report['recall'])} against the labels")
    steps = report.get("rules", {}).get("calibrated", {})
    if steps.get("recall_anomalous_steps") is not None:
        recall, fpr = (100 * steps[k] for k in (
            "recall_anomalous_steps", "fpr_normal_steps"))
        sentence += (f", {recall:.1f}% of the labelled-anomalous steps and "
                     f"{fpr:.2f}% of the normal ones")
    parts = ["<h2 id=\"anomaly\">Anomaly threshold</h2>",
             f"<p class=\"flag\">{sentence}.</p>"]
    if threshold is not None:
        parts.append("<p>The exported <code>score</code> endpoint computes "
                     "the same score with these constants "
                     "(<code>threshold.json</code>).</p>")
    scores = wd.path(workdir, "scores.csv")
    if os.path.exists(scores):
        from kerasae.evaluation import report_series  # plotly
        parts += ["<h3>Step scores (drag to zoom, double-click to reset)"
                  "</h3>", report_series.chart(
                      scores, report.get("threshold"),
                      report.get("scoring", "recorded"))]
    parts.append(_table(report))
    return "\n".join(parts)


def _image(path, caption):
    with open(path, "rb") as handle:
        data = base64.b64encode(handle.read()).decode("ascii")
    name = os.path.basename(path)
    return (f"<figure><img src=\"data:image/png;base64,{data}\" "
            f"alt=\"{_e(name)}\"><figcaption><code>{_e(name)}</code>: "
            f"{_e(caption)}</figcaption></figure>")


def _pictures(workdir, metrics):
    folder = wd.path(workdir, wd.PLOTS)
    names = [n for n in metrics.get("plots", [])
             if os.path.exists(os.path.join(folder, n))]
    if not names:
        return ""
    # The training curves first: they say whether the run converged.
    names.sort(key=lambda n: n != "training_curves.png")
    return "<h2 id=\"pictures\">Pictures</h2>" + "".join(
        _image(os.path.join(folder, n), report_text.PICTURES.get(n, ""))
        for n in names)


def _files(workdir):
    kept = [(wd.METRICS, "every figure above, as JSON"),
            (wd.THRESHOLD, "the anomaly score, threshold and fitted "
             "constants"),
            ("scores.csv", "one score per step of the scored series"),
            (wd.PLOTS, "the pictures as PNG files"),
            (wd.LOGS, "TensorBoard: tensorboard --logdir "
             + wd.path(workdir, wd.LOGS)),
            (wd.MODEL, "the trained model")]
    items = "".join(f"<li><code>{_e(n)}</code>: {_e(what)}</li>"
                    for n, what in kept
                    if os.path.exists(wd.path(workdir, n)))
    return f"<h2 id=\"files\">Files of this run</h2><ul>{items}</ul>"
