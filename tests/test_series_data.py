"""Series data (`--window`): reading, windows, splits, and every bad input.

Files are generated into `tmp_path` (`series_data.py`); nothing trains
here. Each bad input has its own test of the one-line message a user sees.
"""

import numpy as np
import pytest
import series_data

from kerasae.config import Config
from kerasae.config import DataConfig
from kerasae.config import validate
from kerasae.data import load
from kerasae.data import make_dataset
from kerasae.data.series import Windows
from kerasae.errors import ConfigError
from kerasae.errors import DataError


def sensor_csv(tmp_path, steps=300, name="log.csv", labels=True, **kw):
    values, y = series_data.make_series(steps, **kw)
    return series_data.write_csv(tmp_path / name, values,
                                 y if labels else None), values, y


def series_config(path, window=24, **kwargs):
    kwargs.setdefault("time_column", "timestamp")
    return DataConfig(dataset=str(path), window=window, **kwargs)


def message(config, error=DataError):
    with pytest.raises(error) as info:
        load(config)
    text = str(info.value)
    assert text and "\n" not in text, repr(text)
    return text


def test_csv_series_windows_and_contiguous_validation(tmp_path):
    path, values, _ = sensor_csv(tmp_path, labels=False)
    bundle = load(series_config(path, validation_fraction=0.2))
    assert bundle.kind == "series"
    assert bundle.input_shape == (24, 2)
    assert bundle.feature_names == ("temperature", "pressure")
    train, val = bundle.train.x, bundle.validation.x
    assert isinstance(train, Windows)
    # 240 training steps, 60 held out at the end; no window crosses over.
    assert train.ends.max() < 240 <= val.starts.min()
    assert len(train) == 240 - 24 + 1 and len(val) == 60 - 24 + 1
    # Standardization comes from the training stretch only.
    np.testing.assert_allclose(bundle.preprocessing.offset,
                               values[:240].mean(0), atol=1e-4)
    expected = (values[5:29] - values[:240].mean(0)) / values[:240].std(0)
    np.testing.assert_allclose(train[5], expected, atol=1e-4)


def test_pipeline_gathers_the_same_windows_as_slicing(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    train = load(series_config(path)).train.x
    batches = list(make_dataset(train, batch_size=50))
    assert sum(len(b) for b in batches) == len(train)
    np.testing.assert_array_equal(np.concatenate(batches), train[:])
    # The windows are never stored: the object holds the series once.
    assert train.series.shape == (300, 2)


def test_window_stride_spaces_training_windows(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    bundle = load(series_config(path, window_stride=5))
    assert set(np.diff(bundle.train.x.starts)) == {5}
    assert set(np.diff(bundle.validation.x.starts)) == {1}


def test_headerless_csv_names_columns_by_position(tmp_path):
    path = tmp_path / "raw.csv"
    rows = np.random.default_rng(0).normal(size=(100, 3))
    path.write_text("\n".join(f"{i},{a:.4f},{b:.4f},{c:.4f}"
                              for i, (a, b, c) in enumerate(rows)))
    bundle = load(DataConfig(dataset=str(path), window=10, time_column="0",
                             csv_header=False, feature_columns=("1", "3")))
    assert bundle.feature_names == ("1", "3")
    assert bundle.input_shape == (10, 2)


def test_labels_are_not_renumbered_and_train_classes_keeps_normal(tmp_path):
    values, _ = series_data.make_series(300)
    labels = np.zeros(300, np.int64)
    labels[100:110] = 7  # any non-zero label is anomalous
    path = series_data.write_csv(tmp_path / "log.csv", values, labels)
    config = series_config(path, label_column="anomaly")
    bundle = load(config)
    assert bundle.train.x.source.labels[105] == 7
    assert bundle.train.y.max() == 1  # window label: holds an anomaly
    kept = load(series_config(path, label_column="anomaly",
                              train_classes=(0,))).train.x
    assert len(kept) < len(bundle.train.x)
    assert not np.any((kept.starts <= 109) & (kept.ends >= 100))


def test_numpy_series_with_labels(tmp_path):
    values, labels = series_data.make_series(200, anomaly="spike")
    np.savez(tmp_path / "log.npz", x=values, y=labels)
    bundle = load(DataConfig(dataset=str(tmp_path / "log.npz"), window=16))
    assert bundle.input_shape == (16, 2)
    assert bundle.train.x.source.anomalous.sum() == labels.sum()
    np.save(tmp_path / "one.npy", values[:, 0])
    assert load(DataConfig(dataset=str(tmp_path / "one.npy"),
                           window=16)).input_shape == (16, 1)


def test_test_dataset_is_read_like_the_training_file(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    test, values, labels = sensor_csv(tmp_path, 120, "test.csv", seed=4,
                                      anomaly="jump", start=50, length=20)
    bundle = load(series_config(path, label_column="anomaly",
                                test_dataset=test))
    assert len(bundle.test.x) == 120 - 24 + 1
    np.testing.assert_allclose(
        bundle.test.x[0], bundle.preprocessing.apply(values[:24]), atol=1e-5)
    np.testing.assert_array_equal(bundle.test.x.source.labels, labels)


def test_test_dataset_for_plain_csv(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("a.csv", 50), ("b.csv", 20)):
        (tmp_path / name).write_text("u,v\n" + "\n".join(
            f"{a},{b}" for a, b in rng.normal(size=(n, 2))))
    bundle = load(DataConfig(dataset=str(tmp_path / "a.csv"),
                             test_dataset=str(tmp_path / "b.csv")))
    assert len(bundle.test) == 20 and bundle.eval_split_name == "test"


# ------------------------------------------------------------- bad input
def test_window_longer_than_series(tmp_path):
    path, _, _ = sensor_csv(tmp_path, 50, labels=False)
    text = message(series_config(path, window=80, validation_fraction=0))
    assert "--window=80 is longer than the series log.csv (50 steps)" \
        in text


def test_unsorted_timestamps_name_the_row(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    lines = open(path).read().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    open(path, "w").write("\n".join(lines))
    text = message(series_config(path))
    assert "row 12, column 'timestamp'" in text
    assert "comes before row 11's" in text
    assert "sort the rows by time" in text


def test_repeated_timestamp_names_the_row(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    lines = open(path).read().splitlines()
    stamp = lines[20].split(",")[0]
    lines[21] = ",".join([stamp] + lines[21].split(",")[1:])
    open(path, "w").write("\n".join(lines))
    assert "row 22, column 'timestamp'" in message(series_config(path))
    assert "repeats" in message(series_config(path))


def test_time_that_is_not_a_date(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    lines = open(path).read().splitlines()
    lines[5] = ",".join(["yesterday"] + lines[5].split(",")[1:])
    open(path, "w").write("\n".join(lines))
    assert "row 6, column 'timestamp': 'yesterday' is neither a number " \
        "nor an ISO date" in message(series_config(path))


def test_nan_names_row_and_column(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    lines = open(path).read().splitlines()
    cells = lines[7].split(",")
    cells[2] = "nan"
    lines[7] = ",".join(cells)
    open(path, "w").write("\n".join(lines))
    text = message(series_config(path))
    assert "row 8, column 'pressure'" in text and "NaN" in text


def test_nan_in_numpy_series(tmp_path):
    values, _ = series_data.make_series(100)
    values[40, 1] = np.nan
    np.save(tmp_path / "log.npy", values)
    text = message(DataConfig(dataset=str(tmp_path / "log.npy"), window=8))
    assert "row 40, column 1" in text


def test_fewer_than_two_windows(tmp_path):
    path, _, _ = sensor_csv(tmp_path, 30, labels=False)
    text = message(series_config(path, window=30, validation_fraction=0,
                                 test_dataset=path))
    assert "holds 1 window(s) of --window=30 steps; need at least two" \
        in text


def test_validation_stretch_shorter_than_window(tmp_path):
    path, _, _ = sensor_csv(tmp_path, 200, labels=False)
    text = message(series_config(path, window=48, validation_fraction=0.1))
    assert "the last 20 of 200 steps" in text
    assert "shorter than --window=48" in text


def test_test_file_with_other_columns(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    other = tmp_path / "other.csv"
    other.write_text(open(path).read().replace("pressure", "humidity", 1))
    text = message(series_config(path, test_dataset=str(other)))
    assert "--test_dataset=" in text and "differ from the training" in text


def test_test_file_with_a_label_column_the_run_lacks(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    test, _, _ = sensor_csv(tmp_path, 100, "test.csv")
    text = message(series_config(path, test_dataset=test))
    assert text.endswith("(if 'anomaly' holds labels, train with "
                         "--label_column=anomaly)")


def test_unknown_feature_column(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    text = message(series_config(path, feature_columns=("humidity",)))
    assert "no column 'humidity' for --feature_columns" in text


def test_train_classes_needs_step_labels(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    text = message(series_config(path, train_classes=(0,)))
    assert "--train_classes=0 needs labels per step" in text


def test_time_column_left_as_a_feature_gets_a_hint(tmp_path):
    path, _, _ = sensor_csv(tmp_path, labels=False)
    text = message(series_config(path, time_column=None))
    assert "row 2, column 'timestamp'" in text
    assert "is not a number; if it is the time, give --time_column" in text


def test_series_flags_need_a_window():
    config = Config(data=DataConfig(dataset="x.csv", time_column="t"))
    with pytest.raises(ConfigError, match="--time_column applies to a "
                       "series only: add --window=N"):
        validate(config)


def test_train_script_series_flags_and_one_line_error(tmp_path):
    """train.py maps the series flags; a window too long is one line."""
    import subprocess
    import sys

    from conftest import REPO
    path, _, _ = sensor_csv(tmp_path, 100, labels=False)
    result = subprocess.run(
        [sys.executable, f"{REPO}/train.py", f"--dataset={path}",
         "--window=500", "--time_column=timestamp",
         "--feature_columns=temperature", f"--workdir={tmp_path / 'r'}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("error:")]
    assert errors == ["error: --window=500 is longer than the series "
                      "log.csv (100 steps): use a window of at most 100 "
                      "steps"], result.stderr[-2000:]
