"""DataFrames of query results, for pandas or polars (both optional, imported on first use).

``metrics_frame`` is the tidy table of metric records: one row per record, exactly as stored,
with the columns :data:`METRIC_COLUMNS`. Other results turn their table into a frame with
:func:`to_frame`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import ModuleType
from typing import Any

from contexta.errors import ConfigError, ValidationError
from contexta.store.base import RecordView

METRIC_COLUMNS = ("run", "stage", "batch", "sample", "key", "step", "value", "time")
BACKENDS = ("pandas", "polars")


def backend_module(backend: str) -> ModuleType:
    """Import ``pandas`` or ``polars``; a missing one is a ConfigError with the install command."""
    if backend not in BACKENDS:
        raise ValidationError.for_field("backend", "must be 'pandas' or 'polars'", backend)
    try:
        return importlib.import_module(backend)
    except ImportError as exc:
        raise ConfigError(
            f"DataFrames with backend={backend!r} need {backend}, which is not installed: "
            f"pip install 'contexta[{backend}]'"
        ) from exc


def _keys(keys: str | Iterable[str] | None) -> set[str] | None:
    if keys is None:
        return None
    wanted = [keys] if isinstance(keys, str) else list(keys)
    for index, key in enumerate(wanted):
        if not isinstance(key, str):
            raise ValidationError.for_field(f"keys[{index}]", "must be a metric key string", key)
    return set(wanted)


def _name(ref: str | None) -> str | None:
    return ref.rsplit(".", 1)[1] if ref else None


def metric_rows(
    records: Iterable[RecordView], keys: str | Iterable[str] | None = None
) -> list[tuple[Any, ...]]:
    """``(run ref, stage, batch, sample, key, step, value, time)`` per metric record, in stored order."""
    wanted = _keys(keys)
    return [
        (
            r.run_ref,
            _name(r.stage_ref),
            _name(r.batch_ref),
            _name(r.sample_ref),
            r.key,
            r.step,
            r.value,
            datetime.fromisoformat(r.observed_at),
        )
        for r in records
        if r.record_type == "metric" and (wanted is None or r.key in wanted)
    ]


def metrics_frame(
    records_per_run: Sequence[Iterable[RecordView]],
    keys: str | Iterable[str] | None = None,
    backend: str = "pandas",
) -> Any:
    """One tidy frame of every metric record of every run (runs in the given order)."""
    module = backend_module(backend)
    wanted = _keys(keys)
    rows = [row for records in records_per_run for row in metric_rows(records, wanted)]
    columns = dict(zip(METRIC_COLUMNS, zip(*rows, strict=True), strict=False)) if rows else {}
    data = {name: list(columns.get(name, ())) for name in METRIC_COLUMNS}
    if backend == "pandas":
        return module.DataFrame(
            {
                **{name: module.Series(data[name], dtype="object") for name in METRIC_COLUMNS[:5]},
                "step": module.array(data["step"], dtype="Int64"),
                "value": module.array(data["value"], dtype="float64"),
                "time": module.to_datetime(module.Series(data["time"], dtype="object"), utc=True).astype(
                    "datetime64[us, UTC]"
                ),
            }
        )
    schema = {name: module.String for name in METRIC_COLUMNS[:5]}
    schema.update(step=module.Int64, value=module.Float64, time=module.Datetime("us", "UTC"))
    return module.DataFrame(data, schema=schema)


def to_frame(columns: Sequence[str], rows: Iterable[Sequence[Any]], backend: str = "pandas") -> Any:
    """A frame of a plain table (column names, then rows of values)."""
    module = backend_module(backend)
    data = [list(row) for row in rows]
    if backend == "pandas":
        return module.DataFrame(data, columns=list(columns))
    return module.DataFrame(data, schema=list(columns), orient="row", infer_schema_length=None)
