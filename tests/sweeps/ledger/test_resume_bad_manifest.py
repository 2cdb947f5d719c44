"""``--resume`` of a run whose manifest or trial files were corrupted or edited by hand: each bad recorded value is
one ``error:`` line naming the file, the key, what it holds and what is accepted (exit code 2), before anything
starts, and the run directory is left as it was. Well-formed older manifests still resume."""

from __future__ import annotations

import json

import pytest

from search_spaces import get_space
from search_spaces.space import PROFILES as KNOWN_PROFILES
from sweeps.run import main
from sweeps.settings.options import KEPT_BY_RAY, RECORDED, SweepOptions
from sweeps.settings.recorded import ACCEPTED
from sweeps.settings.resolve import resolve_settings
from tests.conftest import free_port

TAIL = "; the manifest holds the settings the run started with: restore that value, or start a new --name"


# every profile the platform knows, in its order: the message lists them all
PROFILES = ", ".join(KNOWN_PROFILES)


def _manifest() -> dict:
    """The keys a manifest written by sweeps/run.py holds that a resume reads (smoke lsid_lr, space defaults)."""
    return {
        "space": "lsid_lr", "profile": "smoke", "search": "grid", "scheduler": "asha", "seeds": 1, "num_samples": 1,
        "overrides": {}, "resources_per_trial": {"cpu": 1.0, "gpu": 0.0, "gpu_used": 0.0}, "trial_timeout_s": None,
        "max_failures": 0,
        "options": resolve_settings(SweepOptions(profile="smoke", name="r"), get_space("lsid_lr")).record(),
    }


def _run(storage, manifest: dict | bytes, status: object = None) -> str:
    """Run ``r`` of lsid_lr with ``manifest`` and one trial, ended with ``status`` (a JSON value or raw bytes)."""
    run_dir = storage / "lsid_lr" / "r"
    (run_dir / "t0").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "t0" / "params.json").write_text(json.dumps({"row": "1e-4", "seed": 0}))
    if status is not None:
        data = status if isinstance(status, bytes) else json.dumps(status).encode()
        (run_dir / "t0" / "status.json").write_bytes(data)
    return str(run_dir)


def _tree(folder) -> dict[str, bytes]:
    return {str(p): p.read_bytes() if p.is_file() else b"" for p in sorted(folder.rglob("*"))}


def _resume(storage, dry_run: bool) -> int:
    return main(["--resume", "--name", "r", "--storage", str(storage), "--dashboard-port", str(free_port()),
                 *(["--dry-run"] if dry_run else [])])


def _edited(edit) -> dict:
    manifest = _manifest()
    edit(manifest)
    return manifest


BAD_MANIFESTS = {
    "seeds-string": (lambda m: m["options"].update(seeds="x"),
                     'options.seeds is "x" (a JSON string), expected a whole number >= 1'),
    "seeds-fraction": (lambda m: m["options"].update(seeds=2.5),
                       "options.seeds is 2.5 (a JSON number), expected a whole number >= 1"),
    "seeds-zero": (lambda m: m["options"].update(seeds=0),  # the right type, a value check() refuses
                   "options.seeds is 0 (a JSON number), expected a whole number >= 1"),
    "sets-string": (lambda m: m["options"].update(sets="abc"),
                    'options.sets is "abc" (a JSON string), expected an object of config overrides by dotted key, '
                    'e.g. {"train.steps": 500}'),
    "sets-bad-config": (lambda m: m["options"].update(sets={"train.steps": "x"}),
                        'options.sets {"train.steps": "x"} (the run\'s --set values, on profile smoke) make no valid '
                        "config: config key 'train.steps' must be int, got 'x'"),
    "timeout-string": (lambda m: m.update(trial_timeout_s="soon"),
                       'trial_timeout_s is "soon" (a JSON string), expected null (no limit) or a number of '
                       "seconds in (0, 9.2e9]"),
    "timeout-too-long": (lambda m: m.update(trial_timeout_s=1e10),  # more than a trial's watchdog can wait
                         "trial_timeout_s is 10000000000.0 (a JSON number), expected null (no limit) or a number of "
                         "seconds in (0, 9.2e9]"),
    "max-concurrent-zero": (lambda m: m["options"].update(max_concurrent=0),
                            "options.max_concurrent is 0 (a JSON number), expected null (no limit) or a whole "
                            "number >= 1"),
    "search-number": (lambda m: m["options"].update(search=5),
                      "options.search is 5 (a JSON number), expected null (the space's default) or one of grid, "
                      "random, optuna, gp"),
    "profile-unknown": (lambda m: m["options"].update(profile="fast"),
                        'options.profile is "fast" (a JSON string), expected one of ' + PROFILES),
    "recheck-string": (lambda m: m["options"].update(asha_recheck="yes"),
                       'options.asha_recheck is "yes" (a JSON string), expected null (the space\'s default) or '
                       "true or false"),
    "space-other": (lambda m: m["options"].update(space="lsid_ablation"),
                    'options.space is "lsid_ablation" (a JSON string), expected "lsid_lr", the run\'s space'),
    "resources-list": (lambda m: m.update(resources_per_trial=[1]),
                       'resources_per_trial is [1] (a JSON array), expected an object like {"cpu": 1.0, "gpu": 0.0}'),
    "resumed-string": (lambda m: m.update(resumed="x"),
                       'resumed is "x" (a JSON string), expected a list of the command lines that resumed the run'),
    # manifests written before the options were recorded whole
    "old-resources-list": (lambda m: (m.pop("options"), m.update(resources_per_trial=[1])),
                           'resources_per_trial is [1] (a JSON array), expected an object like {"cpu": 1.0, '
                           '"gpu": 0.0}'),
    "old-cpu-string": (lambda m: (m.pop("options"), m["resources_per_trial"].update(cpu="2")),
                       'resources_per_trial.cpu is "2" (a JSON string), expected a number > 0'),
    "old-seeds-zero": (lambda m: (m.pop("options"), m.update(seeds=0)),
                       "seeds is 0 (a JSON number), expected a whole number >= 1"),
    "space-only": (lambda m: [m.pop(k) for k in list(m) if k != "space"],
                   "profile is missing, expected one of " + PROFILES),
}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_bad_recorded_value_names_the_manifest_and_key(tmp_path, capsys, case, dry_run):
    edit, problem = BAD_MANIFESTS[case]
    run_dir = _run(tmp_path, _edited(edit), {"status": "terminated", "error": None})
    before = _tree(tmp_path)
    assert _resume(tmp_path, dry_run) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: --resume: {run_dir}/manifest.json: {problem}{TAIL}\n"
    assert "Traceback" not in captured.out
    assert _tree(tmp_path) == before


BAD_TRIAL_FILES = {
    "status-array": ("status.json", b"[1]", "status.json holds a JSON array, not an object; a trial's status.json is "
                     '{"status": "terminated" or "error", "error": ...}, as the sweep writes it'),
    "status-not-utf8": ("status.json", b'{"status": "error", "error": "\xff"}',
                        "status.json is not UTF-8 text (byte 30); a trial's status.json is "),
    "status-invalid-json": ("status.json", b'{"status": ', "status.json is not valid JSON (Expecting value at line 1)"),
    "status-unknown": ("status.json", b'{"status": "done"}', 'status.json has status "done"; a trial\'s status.json'),
    "timeout-array": ("timeout.json", b"[]", "timeout.json holds a JSON array, not an object; a trial's timeout.json "
                      'is {"error": "<why it was stopped>"}, as --trial-timeout writes it'),
    "timeout-no-error": ("timeout.json", b"{}", "timeout.json has error null; a trial's timeout.json is "),
}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("case", sorted(BAD_TRIAL_FILES))
def test_a_bad_trial_file_is_named_before_anything_starts(tmp_path, capsys, case, dry_run):
    name, data, problem = BAD_TRIAL_FILES[case]
    run_dir = _run(tmp_path, _manifest())
    (tmp_path / "lsid_lr" / "r" / "t0" / name).write_bytes(data)
    before = _tree(tmp_path)
    assert _resume(tmp_path, dry_run) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --resume: {run_dir}/t0/{problem}") and err.count("\n") == 1, err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("edit", [
    lambda m: None,
    lambda m: [m["options"].pop(k) for k in ("asha_quorum", "asha_recheck", "search_seed")],  # recorded later
    # an option the manifest does not record keeps the command line's value (Ray keeps these two with the run)
    lambda m: [m["options"].pop(k) for k in ("max_failures", "max_concurrent")],
    lambda m: m.pop("options"),  # written before the options were recorded whole
    lambda m: (m.pop("options"), m.update(seeds=2, num_samples=2, resources_per_trial={"cpu": 0.5, "gpu": 0})),
], ids=["current", "without-newer-options", "without-kept-by-ray", "old", "old-two-seeds"])
def test_a_well_formed_manifest_still_resumes(tmp_path, capsys, edit):
    _run(tmp_path, _edited(edit), {"status": "error", "error": "RuntimeError: x"})
    assert _resume(tmp_path, dry_run=True) == 0
    out = capsys.readouterr().out
    assert "profile smoke, search grid, scheduler asha" in out
    assert "resume: 1 of " in out and "(1 failed, kept as they are" in out


def test_every_recorded_option_says_what_it_accepts():
    assert set(RECORDED + KEPT_BY_RAY + ("trial_timeout",)) - {"space", "profile"} <= set(ACCEPTED)
