#!/usr/bin/env python
"""Submit a sweep to a cluster; the arguments after ``--`` are those of ``sweeps/run.py``.

    python sweeps/submit.py ray --address http://127.0.0.1:8265 -- --space lsid_lr --storage /shared/runs
    python sweeps/submit.py slurm --nodes 2 --gpus-per-node 4 --cpus-per-node 32 -- --space lsid_lr --seeds 3
    python sweeps/submit.py kuberay --image registry/restore:1 --workers 2 --storage-claim runs -- --space lsid_lr
"""

from __future__ import annotations

import os
import sys

# The project root first; this folder off the path, so that its sub-packages (cluster, settings, ...) cannot
# shadow a top-level module of the same name.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from sweeps.launch.cli import run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main())
