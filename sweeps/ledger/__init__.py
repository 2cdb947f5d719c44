"""The run ledger: how each trial ended, resuming a run, retrying failed trials and trial time-outs."""
