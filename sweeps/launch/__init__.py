"""Launch targets of ``sweeps/submit.py``: a Ray cluster's Jobs API, SLURM and KubeRay."""
