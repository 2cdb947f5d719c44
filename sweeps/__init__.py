"""sweeps: the Ray Tune driver of the platform, and its two entry points, ``run.py`` and ``submit.py``."""
