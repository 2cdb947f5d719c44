"""``sweeps/run.py`` ends its process without the interpreter's teardown, but as the interpreter ends it otherwise:
its threads finish, the ``atexit`` handlers run, buffered output is written, the exit code is kept."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_process_ends_as_the_interpreter_would_end_it(tmp_path):
    script = textwrap.dedent(f"""
        import atexit, sys, threading, time
        from restore_core.cli import exit_without_teardown

        def late():
            time.sleep(0.3)
            open({str(tmp_path / "thread")!r}, "w").write("done")

        threading.Thread(target=late).start()
        atexit.register(lambda: open({str(tmp_path / "atexit")!r}, "w").write("ran"))
        sys.stdout.write("buffered, no newline")
        sys.stderr.write("on stderr")
        exit_without_teardown(3)
        print("never")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (3, "buffered, no newline", "on stderr")
    assert (tmp_path / "thread").read_text() == "done"  # the thread was joined, not cut off
    assert (tmp_path / "atexit").read_text() == "ran"
