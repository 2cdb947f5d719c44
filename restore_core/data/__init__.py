"""Data: the embedded photos, synthetic degradations (low-light raw, smoke, OCT noise, spills) and loaders of
users' real data (the SID Sony set, paired and class folders)."""
