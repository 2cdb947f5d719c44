"""sweeps: the Ray Tune driver of the platform, its Python API and its two entry points, ``run.py`` and
``submit.py``.

    import sweeps
    run_dir, results = sweeps.run_sweep("lsid_lr", profile="smoke")   # results: Ray Tune's ResultGrid

Ray Tune reads the settings below from the environment; they are set here, before any module of the package imports
Ray, and a user's own environment wins.
"""

import os

# Our own TensorBoard writer logs scalars and images per trial; Ray's TBX logger would write a second copy.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic progress table with our columns
os.environ.setdefault("RAY_DEDUP_LOGS", "1")
# Ray snapshots the experiment (which trials ended, their latest checkpoints) at most every 10 s by default; a
# driver killed in between would resume from an older picture. Small sweeps snapshot cheaply, so do it often.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
# A worker that takes the next trial (reuse_actors; also after a trial paused by ASHA's quorum or --asha-noise) first
# waits for the last trial's thread to end (checkpoint written, TensorBoard closed, memory released): Ray's 2 s default
# is too short on a busy CPU, and a wait that times out fails the next trial ("Could not re-use actor"). The wait ends
# as soon as the thread does.
os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", "30")

__all__ = ["SweepResult", "dry_run", "run_sweep"]


def __getattr__(name: str):
    # The API is imported on first use: a Ray worker imports this package for the trainable alone, and the driver's
    # modules (and, through the tables, SciPy and Plotly) would cost every worker's start about a second.
    if name in __all__:
        from sweeps import api  # deferred: the driver, not imported by a Ray worker (see above)

        return getattr(api, name)
    raise AttributeError(f"module 'sweeps' has no attribute '{name}'")
