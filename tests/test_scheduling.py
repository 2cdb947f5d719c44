"""How the suite is shared out between pytest-xdist's workers (tests/scheduling.py), checked on this session's own
collection: one group per file, one per shared sweep, the longest first."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.scheduling import LONGEST, SHARED_FIXTURES


def _group(item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


def _file(item) -> str:
    return item.nodeid.split("::")[0]


def test_each_file_is_one_group_and_the_files_of_a_shared_sweep_are_its_group(request):
    items = request.session.items
    groups: dict[str, set[str]] = {}
    for item in items:
        groups.setdefault(_file(item), set()).add(_group(item))
    assert all(len(names) == 1 for names in groups.values()), groups
    for name in SHARED_FIXTURES:
        users = {_file(item) for item in items if name in item.fixturenames}
        assert all(groups[path] == {name} for path in users), (name, users)
    plain = {path for path, names in groups.items() if names.isdisjoint(SHARED_FIXTURES)}
    assert all(groups[path] == {path} for path in plain)
    assert groups[_file(request.node)] == {_file(request.node)}


def test_the_longest_groups_start_first_in_the_order_measured(request):
    order = list(dict.fromkeys(_group(item) for item in request.session.items))
    ranked = [name for name, _seconds in LONGEST if name in order]
    assert order[:len(ranked)] == ranked
    assert [seconds for _name, seconds in LONGEST] == sorted((seconds for _name, seconds in LONGEST), reverse=True)


def test_a_file_that_uses_two_shared_sweeps_is_refused_before_any_test_runs(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "import pytest\nfrom tests.scheduling import group_and_order\n\n"
        "def pytest_collection_modifyitems(config, items):\n    group_and_order(items)\n\n"
        "@pytest.fixture\ndef smoke_run():\n    return 1\n\n@pytest.fixture\ndef fault_sweep():\n    return 2\n")
    (tmp_path / "test_both.py").write_text("def test_plain():\n    pass\n\n"
                                           "def test_one(smoke_run):\n    pass\n\n"
                                           "def test_other(fault_sweep):\n    raise AssertionError('ran')\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(tmp_path), "test_both.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr
    assert ("test_both.py uses 2 shared sweeps (fault_sweep, smoke_run): they would run on two workers; give it one "
            "or add a group that holds both to tests/scheduling.py") in done.stderr
    assert "AssertionError" not in done.stdout + done.stderr


def test_the_tests_of_a_group_run_on_one_worker(tmp_path):
    """Under ``-n 2 --dist loadgroup`` each file's tests go to one worker and a shared sweep's files to the worker of
    that sweep: the controller must see the groups in the node ids the workers send it."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\nfrom tests.scheduling import group_and_order, name_groups_in_node_ids\n\n"
        "@pytest.hookimpl(tryfirst=True)\ndef pytest_collection_modifyitems(config, items):\n"
        "    group_and_order(items)\n    name_groups_in_node_ids(config, items)\n\n"
        "@pytest.fixture(scope='session')\ndef smoke_run():\n    return 1\n")
    for name in ("a", "b", "c"):
        (tmp_path / f"test_{name}.py").write_text("".join(f"def test_{n}():\n    pass\n\n" for n in range(6)))
    (tmp_path / "test_d.py").write_text("def test_plain():\n    pass\n\ndef test_sweep(smoke_run):\n    pass\n")
    (tmp_path / "test_e.py").write_text("def test_sweep(smoke_run):\n    pass\n\ndef test_plain():\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-n", "2", "--dist",
                           "loadgroup", "--rootdir", str(tmp_path), "."], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    workers: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("[gw") and " PASSED " in line:
            worker, node_id = line.split("]")[0][1:], line.split(" PASSED ")[1].strip()
            workers.setdefault(node_id.split("@")[-1], set()).add(worker)
    assert set(workers) == {"test_a.py", "test_b.py", "test_c.py", "smoke_run"}, done.stdout[-3000:]
    assert all(len(names) == 1 for names in workers.values()), workers
