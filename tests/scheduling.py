"""How pytest-xdist shares the suite out between its workers (``-n N --dist loadgroup`` in pyproject.toml).

Each worker is a pytest session of its own, with its own session fixtures and its own Ray (``ray_session``). A test
file therefore stays on one worker (its module fixtures start once), and the files that read one expensive session
fixture (the lsid_lr smoke sweep, the fault sweep) share a worker, so that the fixture runs once in the whole run.
The longest files start first, so that no worker is left alone with a long file at the end.
"""

from __future__ import annotations

import pytest

# Session fixtures that run a sweep: every file that uses one joins the one worker that runs it.
SHARED_FIXTURES = ("smoke_run", "fault_sweep")

# The longest units first (a file, or a group named after its shared fixture), by their serial wall time measured
# with benchmarks/suite_cost.py (seconds, rounded; the last three from benchmarks/suite_timeline.py's records of a
# whole run); everything else keeps its collection order after them.
LONGEST = (
    ("fault_sweep", 220),  # the fault sweep, test_connect's own sweeps and Ray, test_trainable and its readers
    ("tests/sweeps/cluster/test_two_nodes.py", 140),
    ("smoke_run", 130),  # the lsid_lr smoke sweep, test_lsid_lr and the analysis tests that read it
    ("tests/sweeps/test_submit.py", 95),  # the token-checked Ray head and its plugin job
    ("tests/sweeps/cluster/test_object_storage.py", 90),
    ("tests/sweeps/ledger/test_crash.py", 80),
    ("tests/sweeps/ledger/test_resume.py", 60),
    ("tests/sweeps/driver/test_multiobjective.py", 50),
    ("tests/sweeps/test_plugins.py", 50),
    ("tests/sweeps/cluster/test_full_disk.py", 50),
    ("tests/restore_core/test_step_options.py", 45),  # torch.compile's C++ kernels, built from nothing as in CI
    ("tests/search_spaces/test_tcfl_space.py", 40),
    ("tests/benchmarks/test_bad_arguments.py", 40),
    ("tests/search_spaces/test_desmoke_space.py", 40),
    ("tests/sweeps/ledger/test_best_checkpoint.py", 30),
    ("tests/sweeps/ledger/test_timeout_retry.py", 30),
    ("tests/search_spaces/test_lamba_spaces.py", 30),
    ("tests/sweeps/test_submit_plugins.py", 30),  # the SLURM job: 28.6 s alone (`-n 0`) since `--wait` asks every 2 s
    ("tests/sweeps/driver/test_mlflow.py", 25),
    ("tests/sweeps/ledger/test_checkpoint_names.py", 20),  # a killed sweep resumed from an earlier save
    ("tests/sweeps/test_run_cli.py", 15),
    ("tests/test_worker_forks.py", 10),  # last in collection order: alone at the end of a run without this
)


def unit_of_each_file(items: list[pytest.Item]) -> dict[str, str]:
    """The unit (xdist group) of each test file: its path, or the shared fixture that one of its tests uses."""
    units: dict[str, str] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        shared = {name for name in SHARED_FIXTURES if name in getattr(item, "fixturenames", ())}
        shared |= {units[path]} & set(SHARED_FIXTURES) if path in units else set()
        if len(shared) > 1:
            raise pytest.UsageError(f"{path} uses {len(shared)} shared sweeps ({', '.join(sorted(shared))}): they "
                                    "would run on two workers; give it one or add a group that holds both to "
                                    "tests/scheduling.py")
        units[path] = shared.pop() if shared else units.get(path, path)
    return units


def group_and_order(items: list[pytest.Item]) -> None:
    """Mark each test with its unit's xdist group and put the longest units first (in place; stable otherwise)."""
    units = unit_of_each_file(items)
    rank = {name: index for index, (name, _seconds) in enumerate(LONGEST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(units[item.nodeid.split("::")[0]]))
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(units[item.nodeid.split("::")[0]], index)
    items.sort(key=lambda item: (rank.get(units[item.nodeid.split("::")[0]], len(rank)),
                                 first_seen[units[item.nodeid.split("::")[0]]]))


def name_groups_in_node_ids(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, append each test's group to its node id (``path::test@group``), as the controller's
    loadgroup scheduler reads the group from the node ids the workers send it.

    pytest-xdist does this itself by setting ``item._nodeid``; pytest 9 keeps the node id in ``item._id`` and no
    longer reads ``_nodeid``, so there xdist's suffix never reaches the controller and every test is scheduled on its
    own: a file's tests spread over both workers and each worker starts the module and session fixtures (the shared
    sweeps, test_connect's own Ray, test_submit's Ray head) again. Older pytest versions are left to xdist.
    """
    if not getattr(config.option, "loadgroup", False):  # set in xdist's workers under --dist loadgroup
        return
    for item in items:
        node_id = getattr(item, "_id", None)
        if node_id is None or "_nodeid" in vars(item):
            continue
        group = item.get_closest_marker("xdist_group").args[0]
        if not item.nodeid.endswith(f"@{group}"):
            item._id = type(node_id).parse(f"{item.nodeid}@{group}")

