"""A real S3-compatible object store on loopback for the tests: moto in server mode, in its own process, with a
bucket and credentials made up for the test (any key is accepted; the tests check that none leaks)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pyarrow.fs

from tests.conftest import free_port


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    pid: int = 0  # the server's process

    def env(self) -> dict[str, str]:
        """The usual AWS variables that point pyarrow (and so Ray and the analysis) at this server."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint}

    def filesystem(self) -> pyarrow.fs.S3FileSystem:
        return pyarrow.fs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key, region="us-east-1",
                                       endpoint_override=self.endpoint, allow_bucket_creation=True)

    def files(self, prefix: str = "") -> dict[str, int]:
        """Every object under ``bucket/prefix``, by its key relative to the prefix, with its size."""
        base = f"{self.bucket}/{prefix}".rstrip("/")
        selector = pyarrow.fs.FileSelector(base, recursive=True, allow_not_found=True)
        return {info.path[len(base) + 1:]: info.size for info in self.filesystem().get_file_info(selector)
                if info.type == pyarrow.fs.FileType.File}

    def read(self, key: str) -> bytes:
        with self.filesystem().open_input_stream(f"{self.bucket}/{key}") as stream:
            return stream.readall()


@contextlib.contextmanager
def moto_s3(log_path: str):
    """Start ``python -m moto.server`` on a free loopback port, create a bucket, yield the :class:`S3Server`, and
    stop the server however the test ends."""
    port = free_port()
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, f"moto did not start (see {log_path})"
                time.sleep(0.2)
        s3 = S3Server(f"http://127.0.0.1:{port}", f"runs-{secrets.token_hex(3)}", f"AKIA{secrets.token_hex(8).upper()}",
                      secrets.token_urlsafe(30), server.pid)
        s3.filesystem().create_dir(s3.bucket)
        yield s3
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def environment(s3: S3Server, **extra: str) -> dict[str, str]:
    """This environment without other AWS or Ray address settings, plus the server's and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RAY_ADDRESS"))}
    return {**env, **s3.env(), **extra}
