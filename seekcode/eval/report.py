"""Rendering evaluation results as a terminal table and as markdown."""

from __future__ import annotations

from typing import Any

METRICS = ("mrr@1000batch", "mrr", "r@1", "r@5", "r@10", "ndcg", "ndcg_within",
           "ms_similarity", "ms_sort", "ms_total")


def sections(result: dict[str, Any]) -> list[str]:
    return [k for k, v in result.items()
            if isinstance(v, dict) and "mrr" in v and k != "retention"]


def markdown_table(result: dict[str, Any]) -> str:
    """One row per search method, one column per metric."""
    names = sections(result)
    cols = [m for m in METRICS if any(m in result[n] for n in names)]
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for n in names:
        cells = [_fmt(m, result[n].get(m)) for m in cols]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    for name, ratios in result.get("retention", {}).items():
        cells = [f"{ratios[m]:.1%}" if m in ratios else "" for m in cols]
        lines.append(f"| retention ({name}/exact) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(result: dict[str, Any], title: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    names = sections(result)
    cols = [m for m in METRICS if any(m in result[n] for n in names)]
    table = Table(title=title or f"{result['n_queries']:,} queries against {result['n_records']:,} functions")
    table.add_column("method")
    for c in cols:
        table.add_column(c, justify="right")
    for n in names:
        table.add_row(n, *[_fmt(m, result[n].get(m)) for m in cols])
    for name, ratios in result.get("retention", {}).items():
        table.add_row(f"retention ({name})", *[f"{ratios[m]:.1%}" if m in ratios else ""
                                               for m in cols])
    Console(stderr=False).print(table)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" if not metric.startswith("ms_") else f"{value:.2f}"
