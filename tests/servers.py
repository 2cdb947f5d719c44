"""Real servers for the integration tests, started on a free loopback port and stopped when the test ends."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from tests.conftest import free_port


def venv_script(name: str) -> str:
    """A console script installed beside the running Python (the virtual environment's ``bin``)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def http_json(url: str, body: dict | None = None, timeout: float = 10) -> dict:
    """GET ``url`` (POST ``body`` as JSON when given) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


@contextlib.contextmanager
def loopback_server(command: list[str], ready_path: str, log_path: str, limit: float = 120,
                    env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``command`` (which gets ``{port}`` filled in; ``env`` added to this environment) until
    ``http://127.0.0.1:<port><ready_path>`` answers; yield its base URL, and stop it afterwards. Its output goes to
    ``log_path``, quoted when it does not start."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([part.format(port=port) for part in command], stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        deadline = time.monotonic() + limit
        while True:
            try:
                urllib.request.urlopen(base + ready_path, timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    with open(log_path, encoding="utf-8", errors="replace") as handle:
                        raise AssertionError(f"{command[0]} did not start: {handle.read()[-3000:]}") from None
                time.sleep(0.5)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)  # the server and the workers it forked
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
