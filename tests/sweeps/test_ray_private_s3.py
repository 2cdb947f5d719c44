"""The Ray private API that opens an S3 run's storage (``sweeps.ray_private.one_request_per_small_upload``), called
against the installed Ray and a real S3-compatible server on loopback (moto): a small file goes up in one request,
from every filesystem Ray Tune opens for the run and from the driver's own manifest write."""

from __future__ import annotations

import json
import time

import pytest

from restore_core.errors import UserError
from restore_core.io import write_json_uri
from sweeps import ray_private
from tests.sweeps.test_ray_private import private_api


def test_a_runs_storage_in_s3_uploads_a_small_file_in_one_request(tmp_path, monkeypatch):
    """Ray Tune's storage of an S3 run, opened after the switch: its filesystem, its syncer's and the copy a trial's
    worker gets (pickled) upload a small file with one PutObject, where pyarrow's default is a multipart upload's
    three requests; the credentials stay where pyarrow finds them, in no option of the filesystem. So does the run's
    manifest, which the driver writes itself."""
    import pickle

    from ray.train._internal.storage import StorageContext

    from tests.sweeps.cluster.s3_server import moto_s3

    with moto_s3(str(tmp_path / "moto.log")) as s3:
        for variable, value in s3.env().items():
            monkeypatch.setenv(variable, value)

        def requests_to_write(filesystem, name: str, write=None) -> list[str]:
            """The upload's requests in the server's log, up to the one that completes it (logged as answered);
            ``write`` writes the file where the filesystem's own stream does not."""
            before = (tmp_path / "moto.log").read_text().count("\n")
            if write is None:
                with filesystem.open_output_stream(f"{s3.bucket}/runs/{name}") as stream:
                    stream.write(b"{}" * 1000)
            else:
                write()
            deadline, requests = time.time() + 10, []
            while not any(r.endswith(f"/runs/{name}") or "?uploadId=" in r for r in requests if r.split()[0] in (
                    "PUT", "POST")) and time.time() < deadline:
                time.sleep(0.05)
                lines = (tmp_path / "moto.log").read_text().splitlines()[before:]
                requests = [line.split('"')[1].split(" HTTP")[0] for line in lines if f"/runs/{name}" in line]
            return [request for request in requests if request.startswith(("PUT ", "POST "))]

        as_ray_opens = ray_private.experiment._FS_AND_PATH(f"s3://{s3.bucket}/runs")[0]  # Ray's own, unswitched
        assert [r.split("?")[-1].split("=")[0] for r in requests_to_write(as_ray_opens, "a.json")] == [
            "uploads", "partNumber", "uploadId"]  # pyarrow's default: create, part, complete
        with private_api("one_request_per_small_upload"):
            ray_private.one_request_per_small_upload()
            storage = StorageContext(f"s3://{s3.bucket}/runs", "run")
            # the storage's, its syncer's (the driver's uploads) and a trial worker's copy's
            for filesystem in (storage.storage_filesystem, storage.syncer.storage_filesystem,
                               pickle.loads(pickle.dumps(storage)).storage_filesystem):
                assert requests_to_write(filesystem, "b.json") == [f"PUT /{s3.bucket}/runs/b.json"]
                assert s3.read("runs/b.json") == b"{}" * 1000
                options = filesystem.__reduce__()[1][0]
                assert options["access_key"] is None and options["secret_key"] is None
        # the run's manifest, which the driver writes before Ray starts (restore_core.io.write_json_uri)
        manifest = {"space": "x" * 1000}
        assert requests_to_write(None, "manifest.json", lambda: write_json_uri(
            f"s3://{s3.bucket}/runs/manifest.json", manifest)) == [f"PUT /{s3.bucket}/runs/manifest.json"]
        assert json.loads(s3.read("runs/manifest.json")) == manifest
        with pytest.raises(UserError, match=rf"^cannot write s3://{s3.bucket}-gone/runs/manifest.json: ") as refused:
            write_json_uri(f"s3://{s3.bucket}-gone/runs/manifest.json", manifest)  # a bucket that is not there
        assert "\n" not in str(refused.value)
