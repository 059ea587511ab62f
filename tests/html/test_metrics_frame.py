"""ctx.metrics_frame: one tidy frame of metric records (pandas by default, polars on request)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from contexta import ConfigError, Contexta, ValidationError
from contexta.query.frames import METRIC_COLUMNS

pd = pytest.importorskip("pandas")


def test_metrics_frame_has_one_row_per_stored_metric_record(ctx: Contexta, pair: tuple[str, str]) -> None:
    """Both runs, every metric record as stored: run, stage, batch, sample, key, step, value, time."""
    frame = ctx.metrics_frame(list(pair))
    assert tuple(frame.columns) == METRIC_COLUMNS
    per_run = 20 + 5 + 2  # loss by step, val.accuracy per epoch batch, accuracy and latency
    assert len(frame) == 2 * per_run
    assert list(frame["run"].unique()) == list(pair)
    first = frame.iloc[0]
    assert (first["stage"], first["batch"], first["key"], first["step"]) == ("train", None, "loss", 0)
    assert str(frame["step"].dtype) == "Int64" and str(frame["value"].dtype) == "float64"
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert first["time"] == pd.Timestamp(datetime(2025, 1, 1, 0, 5, tzinfo=UTC))
    epochs = frame[(frame["key"] == "val.accuracy") & (frame["run"] == pair[0])]
    assert list(epochs["batch"]) == [f"epoch-{i}" for i in range(5)]
    assert frame[frame["key"] == "accuracy"]["step"].isna().all()


def test_metrics_frame_filters_keys_and_takes_one_run(ctx: Contexta, pair: tuple[str, str]) -> None:
    """keys= keeps only those keys; a single run needs no list."""
    assert set(ctx.metrics_frame(pair[0], keys=["loss", "accuracy"])["key"]) == {"loss", "accuracy"}
    assert len(ctx.metrics_frame(pair[0], keys="latency_ms")) == 1
    empty = ctx.metrics_frame(pair[0], keys=["nope"])
    assert len(empty) == 0 and tuple(empty.columns) == METRIC_COLUMNS


def test_metrics_frame_refuses_bad_arguments(ctx: Contexta, pair: tuple[str, str]) -> None:
    """An unknown backend, a non-string key or an unknown run is an error naming the argument."""
    with pytest.raises(ValidationError, match=r"^backend: must be 'pandas' or 'polars'"):
        ctx.metrics_frame(pair[0], backend="arrow")
    with pytest.raises(ValidationError, match=r"^keys\[0\]: must be a metric key string"):
        ctx.metrics_frame(pair[0], keys=[3])  # type: ignore[list-item]
    with pytest.raises(KeyError, match=r"run:demo\.nope"):
        ctx.metrics_frame(["run:demo.nope"])


def test_metrics_frame_with_polars_matches_pandas(ctx: Contexta, pair: tuple[str, str]) -> None:
    """backend='polars' gives the same rows with typed columns."""
    pl = pytest.importorskip("polars")
    frame = ctx.metrics_frame(list(pair), backend="polars")
    assert isinstance(frame, pl.DataFrame) and tuple(frame.columns) == METRIC_COLUMNS
    assert frame.schema["step"] == pl.Int64 and frame.schema["time"] == pl.Datetime("us", "UTC")
    assert frame.height == len(ctx.metrics_frame(list(pair))) == 54
    assert frame.filter(pl.col("key") == "loss")["step"].to_list()[:3] == [0, 1, 2]


def test_metrics_frame_without_pandas_is_a_config_error(
    ctx: Contexta, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pandas, metrics_frame says to pip install 'contexta[pandas]'."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigError, match=r"pip install 'contexta\[pandas\]'"):
        ctx.metrics_frame(pair[0])
