"""What a sweep runs with: the command line's options, checked, and the manifest that records them."""
