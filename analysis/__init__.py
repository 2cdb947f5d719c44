"""analysis: run directory -> tidy table -> statistics -> tables and the Plotly report.

    from analysis import load_run, load_curves, write_outputs
    frame = load_run("runs/lsid_lr/quick-3seeds")   # one row per trial
    write_outputs("runs/lsid_lr/quick-3seeds")      # results.csv, table.md|csv|tex, pairs, report.html, ...
"""

from analysis.load import load_curves, load_run, read_manifest
from analysis.outputs import analyse, write_outputs

__all__ = ["analyse", "load_curves", "load_run", "read_manifest", "write_outputs"]
