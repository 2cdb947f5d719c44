"""What a sweep runs with: the user's options parsed once (options), resolved against the space and on a resume
against the run's manifest (resolve), the plan built from them (plan), and the manifest that records them (manifest,
recorded)."""
