"""Run a driver script (``sweeps/run.py``, or ``tests/sweeps/spaces.py``: the same plus the test spaces) with many
argument lists, each in a process of its own forked from this one once it has imported the driver's modules: every
command gets its own exit code, stdout and stderr as from ``python SCRIPT ARGS``, without paying Python's, torch's
and SciPy's start-up (seconds of CPU) again for each.

    python tests/sweeps/cli_forks.py SCRIPT OUT_DIR < commands.json   # [[name, [arg, ...]], ...]

A command's child writes ``OUT_DIR/<n>.out`` and ``<n>.err``; this process prints ``{name: exit code}`` as JSON.
The child ends as the interpreter would: an uncaught exception prints its traceback and exits 1, ``SystemExit``
exits with its code, and the ``atexit`` handlers run.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import subprocess
import sys
import threading
import traceback
import types


def _exit_code(exit: SystemExit) -> int:
    """The exit status the interpreter gives ``SystemExit(code)`` (a message is printed and is status 1)."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code
    print(exit.code, file=sys.stderr)
    return 1


def run_child(script: str, args: list[str], out: str, err: str) -> None:
    """In the forked process: ``script`` as ``__main__`` with ``args``, its output in the files (``err == out``: both
    in one); never returns."""
    try:
        for fds, path in (((1, 2), out),) if err == out else (((1,), out), ((2,), err)):
            with open(path, "wb") as handle:  # one file for both: one open, so neither overwrites the other
                for fd in fds:
                    os.dup2(handle.fileno(), fd)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    run_as_main([script, *args])


def _run_main(argv: list[str]) -> None:
    """``python ARGV`` in this process: ``SCRIPT ARGS``, ``-m MODULE ARGS``, ``-c CODE ARGS`` or ``- ARGS`` (the code
    on stdin)."""
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]  # argv[0] becomes the module's file, as Python sets it
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv[0] in ("-c", "-"):
        code = argv[1] if argv[0] == "-c" else sys.stdin.read()
        sys.argv = [argv[0], *argv[2 if argv[0] == "-c" else 1:]]
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        exec(compile(code, "<string>" if argv[0] == "-c" else "<stdin>", "exec"), main.__dict__)  # noqa: S102
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


def run_as_main(argv: list[str]) -> None:
    """In a forked process: ``python ARGV`` (the script ``argv[0]``, or ``-m``, ``-c`` or ``-`` as Python takes them)
    with its ``__main__``, ending as the interpreter would (its exit code, the traceback of an uncaught exception,
    its threads that are not daemons, ``atexit`` handlers); never returns."""
    code = 1
    try:
        try:
            _run_main(argv)
            code = 0
        except SystemExit as exit:
            code = _exit_code(exit)
        except BaseException:  # what the interpreter prints for an uncaught exception
            traceback.print_exc()
            code = 1
        threading._shutdown()  # as the interpreter ends: its threads that are not daemons first, then atexit
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 (a closed stream: nothing more to write)
                pass
        os._exit(code)


def run_forked(script: str, commands: dict[str, list[str]], cwd: str, out_dir: str,
               env: dict[str, str] | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Each of ``commands`` (name: arguments) run by ``script`` in a process forked by this module's ``main``, from
    ``cwd``, with its outputs in ``out_dir``; the results by name, as ``subprocess.run`` gives them."""
    from tests.worker_forks import python_command  # forked itself, with torch, Ray Tune and the project imported

    done = subprocess.run([*python_command(), os.path.abspath(__file__), script, out_dir],
                          input=json.dumps(list(commands.items())), cwd=cwd, env=env, capture_output=True,
                          text=True)  # pytest's time-out (pyproject.toml) stops a hang
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
    codes = json.loads(done.stdout)
    results = {}
    for number, (name, args) in enumerate(commands.items()):
        with open(os.path.join(out_dir, f"{number}.out"), encoding="utf-8") as out, \
                open(os.path.join(out_dir, f"{number}.err"), encoding="utf-8") as err:
            results[name] = subprocess.CompletedProcess([script, *args], codes[name], out.read(), err.read())
    return results


def main() -> int:
    script, out_dir = sys.argv[1:]
    commands = json.load(sys.stdin)
    runpy.run_path(script, run_name="preload")  # the script's imports, not its __main__ block
    import sweeps.run  # noqa: F401 (what tests/sweeps/spaces.py's __main__ block imports, loaded once for all)

    codes = {}
    for number, (name, args) in enumerate(commands):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(script, args, os.path.join(out_dir, f"{number}.out"), os.path.join(out_dir, f"{number}.err"))
        _, status = os.waitpid(pid, 0)
        codes[name] = os.waitstatus_to_exitcode(status)
    print(json.dumps(codes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
