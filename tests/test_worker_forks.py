"""The trial workers and commands forked from a server that has imported torch (tests/worker_forks.py): they are
forked, with the environment, folder and Python path a fresh interpreter would have; the client Ray starts stands
for its worker (exit status, signals, its end ends the worker); a script, ``-c``, ``-m`` and ``-`` run as ``python``
runs them; and a driver's shipped code reaches its forked workers."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from tests import worker_forks
from tests.conftest import ROOT

CHILD = """
import os, sys, time
print(os.getppid(), "torch" in sys.modules, os.environ.get("MARK"), os.getcwd(), flush=True)
print(*sys.path[:3], any(name.split(".")[0] == "tests" for name in sys.modules), flush=True)
if sys.argv[1] == "sleep":
    time.sleep(60)
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def server():
    path = f"/tmp/rs-wf-test-{secrets.token_hex(4)}.sock"
    process = worker_forks.start_server(path, preload=("json",))
    yield process, path
    worker_forks.stop_server(process, path)


def forked_by(server: subprocess.Popen, parent: int) -> bool:
    """Whether ``parent`` (a forked command's parent) is one of the server's forkers (the server itself imports no
    Ray: a forker imports it with a worker's job and raylet)."""
    forker = psutil.Process(parent)
    return forker.ppid() == server.pid and forker.name() == "rs-fork:server"


def client(path: str, script: str, arg: str, cwd: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, worker_forks.__file__, "--client", path, script, arg], cwd=cwd,
                            env={**os.environ, "MARK": "m", **env}, stdout=subprocess.PIPE, text=True)


def test_the_client_ends_as_its_worker_does_with_its_environment_folder_and_path(server, tmp_path):
    process, path = server
    (tmp_path / "code").mkdir()
    script = tmp_path / "code" / "child.py"
    script.write_text(CHILD)
    shipped = tmp_path / "shipped"
    run = client(path, str(script), "3", str(tmp_path), PYTHONPATH=f"{shipped}{os.pathsep}{ROOT}")
    out, _ = run.communicate(timeout=60)
    assert run.returncode == 3
    first, second = out.splitlines()
    assert forked_by(process, int(first.split()[0]))  # forked, not a new Python
    assert first.split()[1:] == ["False", "m", str(tmp_path)]
    # the path of a fresh interpreter (the script's folder, then PYTHONPATH), and none of the server's test modules
    assert second.split() == [str(tmp_path / "code"), str(shipped), ROOT, "False"]


@pytest.mark.parametrize("form", ["-c", "-m", "-"])
def test_code_a_module_or_stdin_run_as_python_would_run_them(server, tmp_path, form):
    _, path = server
    (tmp_path / "mod.py").write_text("import sys\nprint(sys.argv, sys.path[0], __name__)\nsys.exit(4)\n")
    code = "import sys\nprint(sys.argv, sys.path[0], __name__)\nsys.exit(4)\n"
    argv, stdin = {"-c": (["-c", code, "a"], None), "-m": (["-m", "mod", "a"], None), "-": (["-", "a"], code)}[form]
    done = subprocess.run([sys.executable, worker_forks.__file__, "--client", path, *argv], cwd=tmp_path, input=stdin,
                          capture_output=True, text=True, timeout=60)
    alone = subprocess.run([sys.executable, *argv], cwd=tmp_path, input=stdin, capture_output=True, text=True,
                           timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (alone.returncode, alone.stdout, alone.stderr) == (
        4, alone.stdout, "")
    assert "'a'" in done.stdout and "__main__" in done.stdout


def test_unbuffered_code_writes_through_as_python_u_does(server, tmp_path):
    _, path = server
    argv = ["-u", "-c", "import os, sys\nsys.stdout.write('out')\nsys.stderr.write('err')\nos._exit(3)\n"]
    done = subprocess.run([sys.executable, worker_forks.__file__, "--client", path, *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    alone = subprocess.run([sys.executable, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (alone.returncode, alone.stdout, alone.stderr) == (
        3, "out", "err")  # os._exit flushes nothing: only what was written through is there


def test_the_executable_is_the_commands_interpreter_and_python_itself_without_a_server(server, forked_workers,
                                                                                         tmp_path):
    _, path = server
    executable = worker_forks.write_executable(str(tmp_path / "s"))
    code = ["-c", "import os, sys; print(sys.executable, open('/proc/self/comm').read().strip())"]
    for socket_path, expected in ((path, f"{executable} rs-fork:cmd"), ("", f"{sys.executable} python")):
        done = subprocess.run([executable, *code], env={**os.environ, worker_forks.SOCKET_VARIABLE: socket_path},
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout.strip()) == (0, expected), done.stderr
    # the session's executable: the tests' `python`, and first on a Ray head's PATH for its jobs
    assert worker_forks.python_command() == [forked_workers]
    assert worker_forks.python_first_on_path({"PATH": "/bin"}) == {"PATH": f"{os.path.dirname(forked_workers)}:/bin"}


def test_a_forked_command_the_test_kills_or_waits_for(server, tmp_path):
    _, path = server
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out, err = str(tmp_path / "out"), str(tmp_path / "err")
    ended = worker_forks.Forked(path, [str(script), "3"], str(tmp_path), {**os.environ, "MARK": "m"}, out, err)
    assert ended.wait(timeout=60) == 3 and ended.poll() == 3
    assert open(out).read().split()[1:4] == ["False", "m", str(tmp_path)]  # no torch: the server preloaded json
    killed = worker_forks.Forked(path, [str(script), "sleep"], str(tmp_path), dict(os.environ), out, out)
    assert killed.poll() is None and forked_by(server[0], psutil.Process(killed.pid).ppid())  # the command itself
    with pytest.raises(subprocess.TimeoutExpired):
        killed.wait(timeout=0.1)
    killed.kill()
    assert killed.wait(timeout=60) == -signal.SIGKILL


def test_a_signal_to_the_client_reaches_the_worker_and_killing_the_client_ends_it(server, tmp_path):
    _, path = server
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run = client(path, str(script), "sleep", str(tmp_path))
    run.stdout.readline()
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=30) == -signal.SIGTERM  # the worker died of it, and so does the client

    run = client(path, str(script), "sleep", str(tmp_path))
    run.stdout.readline()
    (worker,) = [p for p in psutil.Process(server[0].pid).children(recursive=True)
                 if p.status() != psutil.STATUS_ZOMBIE and p.name() != "rs-fork:server"]
    run.kill()
    run.wait(timeout=30)
    worker.wait(timeout=30)  # psutil.TimeoutExpired if the worker outlived its client


def test_clients_that_go_away_mid_request_leave_the_server_serving(server, tmp_path):
    """A node stopped as it starts kills its processes' clients at any point of their hand-over: before the request is
    whole, or after it and before the pid comes back. The server (which forks a job's first workers itself) and its
    forkers serve the next client all the same."""
    process, path = server
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    for job in range(6):  # a job of its own each: forked by the server itself, as a job's first two workers are
        env = {**os.environ, "RAY_JOB_ID": f"{job:08x}"}
        request = json.dumps({"argv": [str(script), "0"], "env": env, "cwd": str(tmp_path)}).encode()
        with socket.socket(socket.AF_UNIX) as gone, open(os.devnull, "rb") as stdin:
            gone.connect(path)
            socket.send_fds(gone, [len(request).to_bytes(8, "big")], [stdin.fileno()] * 3)
            if job % 2:  # the request whole; gone before the pid is sent
                gone.sendall(request)
    run = client(path, str(script), "5", str(tmp_path), RAY_JOB_ID="0000000a")
    assert run.wait(timeout=60) == 5 and process.poll() is None
    assert forked_by(process, int(run.stdout.readline().split()[0])) is False  # the server's own child


def test_a_server_that_ended_during_the_session_is_reported_with_its_output(tmp_path):
    path = f"/tmp/rs-wf-test-{secrets.token_hex(4)}.sock"
    process = worker_forks.start_server(path, preload=("json",))
    process.kill()
    process.wait()
    with pytest.raises(RuntimeError, match=rf"ended during the session \(exit code -9; its output in {path}\.log\)"):
        worker_forks.stop_server(process, path)
    os.unlink(path + ".log")
    assert not os.path.exists(path)


def test_the_hook_leaves_a_runtime_env_with_an_interpreter_of_its_own_to_ray(server, monkeypatch):
    _, path = server
    monkeypatch.setenv(worker_forks.SOCKET_VARIABLE, path)
    assert worker_forks.runtime_env_hook(None) == {"py_executable": worker_forks.py_executable(path)}
    assert worker_forks.runtime_env_hook({"env_vars": {"A": "1"}})["env_vars"] == {"A": "1"}
    shipped = {"py_modules": ["/tmp/x.zip"], "working_dir": "/tmp/w"}
    assert worker_forks.runtime_env_hook(shipped) == {**shipped, "py_executable": worker_forks.py_executable(path)}
    for own in ({"pip": ["tqdm"]}, {"py_executable": "python3"}, {"conda": "env"}):
        assert worker_forks.runtime_env_hook(own) is own
    monkeypatch.setenv(worker_forks.SOCKET_VARIABLE, path + ".gone")
    assert worker_forks.runtime_env_hook(None) is None
    monkeypatch.setenv(worker_forks.SOCKET_VARIABLE, path)
    monkeypatch.setattr(sys, "executable", worker_forks.executable_path(path))  # run with the session's executable
    assert worker_forks.runtime_env_hook(shipped) is shipped


def test_the_session_rays_workers_are_forked_with_torch_imported(ray_session):
    @ray_session.remote
    def imported() -> tuple[bool, str, dict]:
        return ("torch" in sys.modules, " ".join(psutil.Process().parent().cmdline()),
                ray_session.get_runtime_context().runtime_env)

    had_torch, parent, runtime_env = ray_session.get(imported.remote(), timeout=120)
    assert had_torch and "worker_forks.py" in parent and "--client" not in parent
    assert runtime_env == {}  # forked by the node's own worker command, not a runtime env's (no setup_worker.py)
    # the node's Python processes, named by their script: each started through the client
    session = ray_session._private.worker.global_worker.node.get_session_dir_path()
    client = f"{worker_forks.__file__} --client {os.environ[worker_forks.SOCKET_VARIABLE]} "
    started = {}
    for process in psutil.process_iter():
        try:
            command = process.cmdline()
        except psutil.NoSuchProcess:  # ended meanwhile (a zombie too)
            continue
        scripts = [os.path.basename(arg) for arg in command if arg.endswith(".py") and arg != worker_forks.__file__]
        if scripts and any(session in arg for arg in command) and scripts[0] != "default_worker.py":
            started[scripts[0]] = client in " ".join(command)
    assert started == dict.fromkeys(["dashboard.py", "agent.py", "main.py", "log_monitor.py", "monitor.py"], True)


OWN_WORKERS_DRIVER = """
import sys
import ray
ray.init(address=sys.argv[1], logging_level="ERROR")

@ray.remote
def where():
    with open("/proc/self/comm") as comm:
        return "torch" in sys.modules, comm.read().strip()

print(*ray.get(where.remote(), timeout=120))
"""


def test_a_driver_with_rays_own_workers_gets_a_worker_that_ray_starts(ray_session):
    done = subprocess.run([sys.executable, "-c", OWN_WORKERS_DRIVER, ray_session.get_runtime_context().gcs_address],
                          cwd=ROOT, env=worker_forks.rays_own_workers(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "ray::where"]  # not forked: no torch, not named rs-fork:worker


SHIPPING_DRIVER = """
import sys
import psutil, ray
ray.init(address=sys.argv[1], runtime_env={"py_modules": [sys.argv[2]]}, logging_level="ERROR")

@ray.remote
def shipped():
    import shipped_here
    return shipped_here.WHERE, " ".join(psutil.Process().parent().cmdline())

print(*ray.get(shipped.remote(), timeout=120))
"""


def test_a_driver_that_ships_code_forks_workers_that_import_its_copy(ray_session, tmp_path):
    package = tmp_path / "shipped_here"
    package.mkdir()
    (package / "__init__.py").write_text("WHERE = __file__\n")
    # a driver of its own, on the session's Ray: the hook in its environment adds the forked workers
    done = subprocess.run([sys.executable, "-c", SHIPPING_DRIVER, ray_session.get_runtime_context().gcs_address,
                           str(package)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    where, parent = done.stdout.split(" ", 1)
    assert "runtime_resources" in where and not where.startswith(str(tmp_path))  # Ray's copy, not the folder
    assert "worker_forks.py" in parent and "--client" not in parent


def test_a_forked_command_has_ray_imported_and_draws_its_own_random_ids(forked_workers):
    """The session's server hands a command to a forker that has imported Ray Tune; Ray's native random generator is
    still unseeded there, so two commands draw different IDs (as two ``ray start`` must name their nodes)."""
    code = ("import sys; preloaded = 'ray.tune' in sys.modules; from ray._raylet import NodeID; "
            "print(preloaded, NodeID.from_random().hex())")
    runs = [subprocess.run([*worker_forks.python_command(), "-c", code], capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr[-2000:]
    (first_preloaded, first_id), (second_preloaded, second_id) = (run.stdout.split() for run in runs)
    assert first_preloaded == second_preloaded == "True"
    assert first_id != second_id


def test_a_forked_command_keeps_the_servers_core_unless_its_path_finds_another_copy(forked_workers, tmp_path):
    """The server imports restore_core; a child whose path would find another copy of it (a job's working_dir, a
    folder with a package of that name) imports that copy, as a fresh interpreter would."""
    (tmp_path / "restore_core").mkdir()
    (tmp_path / "restore_core" / "__init__.py").write_text("COPY = True\n")
    code = ("import sys; preloaded = 'restore_core.loop' in sys.modules; import restore_core; "
            "print(preloaded, restore_core.__file__)")
    runs = {where: subprocess.run([*worker_forks.python_command(), "-c", code], cwd=where, capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "PYTHONPATH": where})
            for where in (ROOT, str(tmp_path))}
    assert [run.returncode for run in runs.values()] == [0, 0], runs[str(tmp_path)].stderr[-2000:]
    assert runs[ROOT].stdout.split() == ["True", os.path.join(ROOT, "restore_core", "__init__.py")]
    assert runs[str(tmp_path)].stdout.split() == ["False", str(tmp_path / "restore_core" / "__init__.py")]


def test_a_forked_command_gets_what_the_preloaded_sweeps_package_sets_in_the_environment(forked_workers):
    """The forker has imported the sweeps package, which sets Ray Tune's settings where the environment has none: a
    child that keeps that import gets them as its own import would have set them, and a user's value wins."""
    name = "TUNE_FUNCTION_THREAD_TIMEOUT_S"
    code = f"import os, sys; print('sweeps.driver.trainable' in sys.modules, os.environ.get({name!r}))"
    unset = {key: value for key, value in os.environ.items() if key != name}
    runs = [subprocess.run([*worker_forks.python_command(), "-c", code], cwd=ROOT, capture_output=True, text=True,
                           timeout=120, env=env) for env in (unset, {**unset, name: "7"})]
    assert [run.stdout.split() for run in runs] == [["True", "30"], ["True", "7"]], runs[0].stderr[-2000:]
