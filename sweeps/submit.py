#!/usr/bin/env python
"""Submit a sweep to a cluster; the arguments after ``--`` are those of ``sweeps/run.py``.

    python sweeps/submit.py ray --address http://127.0.0.1:8265 -- --space lsid_lr --storage /shared/runs
    python sweeps/submit.py slurm --nodes 2 --gpus-per-node 4 --cpus-per-node 32 -- --space lsid_lr --seeds 3
    python sweeps/submit.py kuberay --image registry/restore:1 --workers 2 --storage-claim runs -- --space lsid_lr
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from restore_core.sweep.submit_cli import run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main())
