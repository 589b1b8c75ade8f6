"""Accuracy metrics of batch DOA evaluation (the ``metrics.json`` of conventions.md).

Per method, and per group of rows (``snr_db`` always when the manifest has it, plus any
``--group-by`` columns):

- ``n``: rows evaluated (one per manifest row).
- ``n_failed``: rows without a usable prediction: the file was missing or unreadable, the method
  raised, the manifest row had no valid true azimuth, or the method gave a **null azimuth**
  ("no source detected") on a clip that has a true azimuth.
- ``mae_deg``, ``median_error_deg``: mean and median circular error (degrees, conventions.md:
  ``d = |a - b| mod 360; err = min(d, 360 - d)``) over **all** ``n`` rows, where a failed row
  counts as the worst possible error, 180°. A method cannot improve its score by abstaining, and
  methods compared on the same manifest are always averaged over the same rows.
- ``acc5``, ``acc10``: fraction of all ``n`` rows with error <= 5° and <= 10°; a failed row is
  never within tolerance.

Optional extra fields (conventions.md allows new optional fields): ``mae_ok_deg`` (mean error over
the rows that did produce a prediction, None if none did) and ``time_per_clip_s`` (mean
processing time of the method per row, where timings are known).

Group keys are strings: numeric values are written canonically (``"10"`` for 10 and 10.0,
``"-5"``, ``"2.5"``) so that ``10`` and ``10.0`` in a manifest fall into one group; an empty cell
is the group ``"(none)"``. Groups are ordered numerically when all keys are numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..angles import circular_error_deg

FAILED_ERROR_DEG = 180.0
"""Error (degrees) a failed row or a null prediction counts as: the worst possible."""
ACC_TOLERANCES_DEG = (5.0, 10.0)
NO_GROUP = "(none)"


def summarize(errors: Sequence[float | None], times_s: Sequence[float | None] | None = None
              ) -> dict[str, Any]:
    """Metrics of one set of rows.

    Args:
        errors: circular error (degrees) per row, or None for a failed row / null prediction.
        times_s: processing time (s) per row, None where unknown.

    Returns:
        ``{"n", "n_failed", "mae_deg", "median_error_deg", "acc5", "acc10", "mae_ok_deg",
        "time_per_clip_s"}``; the float fields are None when ``n == 0``.
    """
    n = len(errors)
    ok = np.array([e for e in errors if e is not None], dtype=float)
    scored = np.concatenate([ok, np.full(n - len(ok), FAILED_ERROR_DEG)])
    out: dict[str, Any] = {"n": n, "n_failed": n - len(ok)}
    if n:
        out["mae_deg"] = _r(scored.mean())
        out["median_error_deg"] = _r(np.median(scored))
        for tol in ACC_TOLERANCES_DEG:
            out[f"acc{int(tol)}"] = _r(np.count_nonzero(ok <= tol) / n, 4)
    else:
        out.update(mae_deg=None, median_error_deg=None, acc5=None, acc10=None)
    out["mae_ok_deg"] = _r(ok.mean()) if len(ok) else None
    t = [x for x in (times_s or []) if x is not None]
    out["time_per_clip_s"] = _r(float(np.mean(t)), 5) if t else None
    return out


def prediction_error(pred_deg: float | None, true_deg: float | None) -> float | None:
    """Circular error (degrees, in [0, 180]) of a prediction, or None when either is missing.

    ``prediction_error(359, 1) == 2``: errors wrap around 0°/360° (conventions.md).
    """
    if pred_deg is None or true_deg is None:
        return None
    return float(circular_error_deg(float(pred_deg), float(true_deg)))


def group_key(value: Any) -> str:
    """Canonical group label of a cell: ``"10"`` for "10" / "10.0", ``"(none)"`` if empty."""
    s = "" if value is None else str(value).strip()
    if s == "":
        return NO_GROUP
    try:
        v = float(s)
    except ValueError:
        return s
    if not math.isfinite(v):
        return s
    return str(int(v)) if v == int(v) else f"{v:g}"


def sort_group_keys(keys: Iterable[str]) -> list[str]:
    """Numeric order when every key is a number (the ``(none)`` group last), else text order."""
    keys = list(dict.fromkeys(keys))
    named = [k for k in keys if k != NO_GROUP]
    try:
        named.sort(key=float)
    except ValueError:
        named.sort()
    return named + ([NO_GROUP] if NO_GROUP in keys else [])


def compute_metrics(rows: Sequence[Mapping[str, Any]], methods: Sequence[str] | None = None,
                    group_by: Sequence[str] = ()) -> dict[str, Any]:
    """Metrics per method and per group from prediction rows.

    Args:
        rows: prediction rows (dicts) with at least ``method``, ``error_deg`` (float, or
            None/"" for a failed row), ``status`` (``"ok"`` or ``"error: ..."``) and the
            manifest columns; ``time_s`` (float) is used when present.
        methods: methods to report, in this order (default: order of first appearance).
        group_by: columns to group by; ``snr_db`` is added first when the rows have it.

    Returns:
        ``{method: {"n", "n_failed", "mae_deg", "median_error_deg", "acc5", "acc10",
        "mae_ok_deg", "time_per_clip_s", "groups": {column: {key: {same fields}}}}}``.
    """
    if methods is None:
        methods = list(dict.fromkeys(r["method"] for r in rows))
    columns = list(group_by)
    if rows and "snr_db" in rows[0] and "snr_db" not in columns:
        columns.insert(0, "snr_db")
    out: dict[str, Any] = {}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        errs = [row_error(r) for r in mine]
        times = [_float_or_none(r.get("time_s")) for r in mine]
        res = summarize(errs, times)
        groups: dict[str, Any] = {}
        for col in columns:
            keys = [group_key(r.get(col)) for r in mine]
            groups[col] = {k: summarize([e for e, kk in zip(errs, keys, strict=True) if kk == k],
                                        [t for t, kk in zip(times, keys, strict=True) if kk == k])
                           for k in sort_group_keys(keys)}
        res["groups"] = groups
        out[m] = res
    return out


def row_error(row: Mapping[str, Any]) -> float | None:
    """A prediction row's error (degrees), or None if it failed (non-ok status or no error)."""
    if str(row.get("status", "ok")) != "ok":
        return None
    return _float_or_none(row.get("error_deg"))


def _float_or_none(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)
