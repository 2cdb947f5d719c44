"""analysis: run directory -> tidy table -> statistics -> tables and the Plotly report.

    from analysis import load_run, load_curves, write_outputs
    frame = load_run("runs/lsid_lr/quick-3seeds")   # one row per trial
    write_outputs("runs/lsid_lr/quick-3seeds")      # results.csv, table.md|csv|tex, pairs, report.html, ...
"""

from analysis.load import load_curves, load_run, read_manifest

__all__ = ["analyse", "load_curves", "load_run", "read_manifest", "write_outputs"]
_OUTPUTS = ("analyse", "write_outputs")


def __getattr__(name: str):
    """``analyse`` and ``write_outputs`` on first use: they import SciPy's statistics and the report, which a process
    that only reads or records a run (the sweep's workers and its driver until the tables) does not need."""
    if name in _OUTPUTS:
        from analysis import outputs  # deferred: SciPy's statistics and Plotly, only for writing tables

        return getattr(outputs, name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
