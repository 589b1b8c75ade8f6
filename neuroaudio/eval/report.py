"""Tables of ``metrics.json``: per method × group (SNR by default), for the terminal and markdown.

Columns: n, failed, MAE (degrees), median error (degrees), ACC@5° (%), ACC@10° (%). Each method
gets an ``all`` row followed by one row per group value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEADERS = ["method", "{col}", "n", "failed", "MAE (°)", "median (°)", "ACC@5° (%)", "ACC@10° (%)"]


def table_rows(metrics: Mapping[str, Any], column: str = "snr_db", include_all: bool = True
               ) -> list[list[str]]:
    """Rows of text cells (see :data:`HEADERS`) for each method, ``all`` first then each group."""
    out = []
    for method, m in metrics.items():
        entries = [("all", m)] if include_all else []
        entries += list(m.get("groups", {}).get(column, {}).items())
        for key, g in entries:
            out.append([method, key, str(g["n"]), str(g["n_failed"]), _f(g["mae_deg"], 1),
                        _f(g["median_error_deg"], 1), _pct(g["acc5"]), _pct(g["acc10"])])
    return out


def headers(column: str) -> list[str]:
    name = {"snr_db": "SNR (dB)"}.get(column, column)
    return [h.format(col=name) for h in HEADERS]


def group_columns(metrics: Mapping[str, Any]) -> list[str]:
    """Group columns present in the metrics, in order (``snr_db`` first when present)."""
    cols: list[str] = []
    for m in metrics.values():
        for c in m.get("groups", {}):
            if c not in cols:
                cols.append(c)
    return cols


def rich_table(metrics: Mapping[str, Any], column: str | None = None, title: str | None = None):
    """A rich Table per method × ``column`` groups (just the ``all`` rows when column is None)."""
    from rich.table import Table

    col = column or "group"
    t = Table(*headers(col), title=title)
    for r in table_rows(metrics, column) if column else table_rows(metrics, "", True):
        t.add_row(*r)
    return t


def markdown_table(metrics: Mapping[str, Any], column: str = "snr_db", include_all: bool = True) -> str:
    """The same table in GitHub markdown."""
    h = headers(column)
    lines = ["| " + " | ".join(h) + " |", "|" + "|".join("---" for _ in h) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(metrics, column, include_all)]
    return "\n".join(lines) + "\n"


def wide_markdown_table(metrics: Mapping[str, Any], field: str, column: str = "snr_db",
                        scale: float = 1.0, digits: int = 1) -> str:
    """One row per method, one column per group value: ``field`` (e.g. ``mae_deg``, ``acc10``)."""
    keys: list[str] = []
    for m in metrics.values():
        for k in m.get("groups", {}).get(column, {}):
            if k not in keys:
                keys.append(k)
    lines = ["| method | " + " | ".join(f"{k} dB" if column == "snr_db" else k for k in keys)
             + " | all |", "|---" * (len(keys) + 2) + "|"]
    for method, m in metrics.items():
        g = m.get("groups", {}).get(column, {})
        cells = [_f(g[k][field] * scale if k in g and g[k][field] is not None else None, digits)
                 for k in keys]
        allv = m[field] * scale if m[field] is not None else None
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {_f(allv, digits)} |")
    return "\n".join(lines) + "\n"


def _f(v: float | None, nd: int) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"
