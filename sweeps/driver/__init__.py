"""Plan and run a sweep on Ray Tune: the trainable, the searcher and scheduler, the tuner, the end-of-sweep summary."""
