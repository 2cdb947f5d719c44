"""Where a sweep runs and writes: connecting to Ray (local or a cluster), its security, the storage location."""
