"""analysis: run directory -> tidy table -> statistics -> tables and the Plotly report."""

from analysis.load import load_curves, load_run, read_manifest
from analysis.tables import write_outputs

__all__ = ["load_curves", "load_run", "read_manifest", "write_outputs"]
