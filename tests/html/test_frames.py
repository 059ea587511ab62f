"""DataFrames of query results: to_pandas() / to_polars(), and the error when a backend is missing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from contexta import ConfigError, Contexta
from contexta.query.frames import METRIC_COLUMNS

pd = pytest.importorskip("pandas")


def test_missing_backend_is_a_config_error_with_the_install_hint(
    ctx: Contexta, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pandas (or polars) installed, the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ConfigError, match=r"pip install 'contexta\[pandas\]'"):
        ctx.get_run_snapshot(pair[0]).to_pandas()
    with pytest.raises(ConfigError, match=r"pip install 'contexta\[polars\]'"):
        ctx.compare_runs(*pair).to_polars()


def test_results_turn_into_frames(ctx: Contexta, pair: tuple[str, str]) -> None:
    """Snapshot, comparison, multi-comparison, diagnosis and report sections have to_pandas()."""
    snapshot = ctx.get_run_snapshot(pair[0]).to_pandas()
    assert tuple(snapshot.columns) == METRIC_COLUMNS and len(snapshot) == 27
    pairwise = ctx.compare_runs(*pair).to_pandas()
    assert list(pairwise.columns) == ["stage", "key", "left", "right", "delta", "left_status", "right_status"]
    loss = pairwise[pairwise["key"] == "loss"].iloc[0]
    assert loss["delta"] == pytest.approx(loss["right"] - loss["left"])
    many = ctx.compare_multiple_runs(list(pair)).to_pandas()
    assert list(many.columns) == ["stage", "key", "baseline", "candidate"]
    diagnosis = ctx.diagnose_run(pair[1]).to_pandas()
    assert list(diagnosis.columns) == ["severity", "code", "subject", "summary", "evidence"]
    assert "failed_stage" in set(diagnosis["code"])
    section = ctx.build_snapshot_report(pair[0]).section("Stages").to_pandas()
    assert list(section["stage"]) == ["prepare", "train", "evaluate"]


def test_polars_frames_match_pandas(ctx: Contexta, pair: tuple[str, str]) -> None:
    """to_polars() gives the same rows as to_pandas(), with typed metric columns."""
    pl = pytest.importorskip("polars")
    frame = ctx.get_run_snapshot(pair[0]).to_polars()
    assert isinstance(frame, pl.DataFrame) and tuple(frame.columns) == METRIC_COLUMNS and frame.height == 27
    assert frame.schema["step"] == pl.Int64 and frame.schema["time"] == pl.Datetime("us", "UTC")
    assert frame["time"][0] == datetime(2025, 1, 1, 0, 5, tzinfo=UTC)
    assert ctx.compare_multiple_runs(list(pair)).to_polars().columns == [
        "stage",
        "key",
        "baseline",
        "candidate",
    ]
    assert ctx.compare_runs(*pair).to_polars().height == len(ctx.compare_runs(*pair).to_pandas())
    assert ctx.diagnose_run(pair[1]).to_polars().height == len(ctx.diagnose_run(pair[1]).issues)
    assert ctx.build_snapshot_report(pair[0]).section("Metrics").to_polars().height == 4
