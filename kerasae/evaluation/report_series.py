"""The interactive chart of a series' step scores, for `report.html`.

`chart(scores_csv, threshold, scoring)` reads `RUN/scores.csv` (time,
`<scoring>_score`, `<scoring>_flagged`, label column) and returns an HTML
fragment: a plotly figure of the score over time at full resolution, the
threshold as a line, flagged steps as red points and labelled anomalies
as grey bands, with plotly's JavaScript inlined
(`include_plotlyjs=True`), so the page needs no network. Plotly draws
SVG, not WebGL: it renders wherever the page is opened, and a
100,000-step log zooms down to single steps.
"""

import csv

import plotly.graph_objects as go
import plotly.io as pio

# Grey bands beyond this many labelled stretches would hide the score.
MAX_BANDS = 300


def read_scores(path, scoring="recorded"):
    """Columns of a `scores.csv`: `(x, x_name, score, flagged, labels)`.

    `scoring` picks the `live_*` or `recorded_*` columns (the one the
    anomaly report's threshold belongs to). `x` is the time cell of each
    step (ISO text plotly reads as dates, or numbers) or the step index;
    `score` has None where no window ends; `labels` is None without a
    label column (the last, when it is not a score or a feature share).
    """
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    at = header.index(f"{scoring}_score")
    flag_at = header.index(f"{scoring}_flagged")
    timed = header[0] != "live_score"
    x = [r[0] for r in rows] if timed else list(range(len(rows)))
    score = [float(r[at]) if r[at] else None for r in rows]
    flagged = [r[flag_at] == "1" for r in rows]
    labels, last = None, header[-1]
    if not (last.endswith(("_score", "_flagged", "_share"))) and \
            len(header) > 1:
        labels = [r[-1] not in ("", "0", "0.0", "False", "false")
                  for r in rows]
    return x, header[0] if timed else "step", score, flagged, labels


def _stretches(mask):
    """`[(first, last), ...]` index pairs of the True runs of `mask`."""
    found, start = [], None
    for i, value in enumerate(list(mask) + [False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            found.append((start, i - 1))
            start = None
    return found


def figure(path, threshold, scoring="recorded"):
    """The plotly `Figure` of one `scores.csv`."""
    x, x_name, score, flagged, labels = read_scores(path, scoring)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=score, mode="lines", name="step score",
                             line=dict(color="black", width=1)))
    hits = [i for i, f in enumerate(flagged) if f]
    fig.add_trace(go.Scatter(
        x=[x[i] for i in hits], y=[score[i] for i in hits],
        mode="markers", name=f"flagged ({len(hits):,} steps)",
        marker=dict(color="red", size=4)))
    if threshold is not None:
        fig.add_hline(y=threshold, line=dict(color="red", dash="dash"),
                      annotation_text=f"threshold {threshold:.4g}")
    if labels is not None:
        for first, last in _stretches(labels)[:MAX_BANDS]:
            fig.add_vrect(x0=x[first], x1=x[last], fillcolor="grey",
                          opacity=0.3, line_width=0)
    fig.update_layout(
        height=420, margin=dict(l=50, r=20, t=30, b=40),
        xaxis_title=x_name, yaxis_title="step score",
        legend=dict(orientation="h", y=1.08), template="plotly_white")
    return fig


def chart(path, threshold, scoring="recorded"):
    """An HTML `<div>` with the chart and plotly's JavaScript inlined."""
    return pio.to_html(figure(path, threshold, scoring), full_html=False,
                       include_plotlyjs=True, div_id="series-scores",
                       config={"displaylogo": False})
