"""A run directory read once: its trials, its space and every table built from them (what the files the analysis
writes, and the report, are rendered from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.format import TextTable
from analysis.load import load_curves, lower_is_better, manifest_value
from analysis.rows import Row, build_rows


@dataclass
class Analysis:
    """A run directory read once: the trials, the space, and every table built from them."""

    run_dir: str
    manifest: dict[str, Any]
    space: Any
    frame: pd.DataFrame
    metric: str
    mode: str
    baseline: str | None
    boundary: pd.DataFrame
    objectives: list[tuple[str, str]] = field(default_factory=list)  # (metric, mode), the run's metric first
    verdict: str = ""  # the paragraph that opens the tables, the report and the sweep's summary
    tables: dict[str, tuple[TextTable, pd.DataFrame]] = field(default_factory=dict)
    extra_markdown: dict[str, str] = field(default_factory=dict)  # task-specific tables, already Markdown
    _curves: pd.DataFrame | None = None
    _rows: list[Row] | None = None

    @property
    def curves(self) -> pd.DataFrame:
        if self._curves is None:
            self._curves = load_curves(self.run_dir)
        return self._curves

    @property
    def rows(self) -> list[Row]:
        """The comparison's rows (:func:`analysis.rows.build_rows`), built once: the tables, the verdict, the
        report and the reproduction files all read them (a 500-trial run has 500 of them)."""
        if self._rows is None:
            self._rows = build_rows(self.frame, self.metric, self.mode)
        return self._rows

    @property
    def pairs(self) -> list:
        return list(manifest_value(self.manifest, self.space, "pairs"))

    def mode_of(self, metric: str) -> str:
        if metric == self.metric:
            return self.mode
        return "min" if lower_is_better(metric) else "max"
