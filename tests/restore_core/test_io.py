"""JSON written where Ray writes a run: a local folder, or a URI through pyarrow's filesystems."""

from __future__ import annotations

import json

import pytest

from restore_core.errors import UserError
from restore_core.io import json_text, read_json_object, write_json_uri


def test_a_manifest_written_to_a_uri_reads_back_like_a_local_one(tmp_path):
    data = {"space": "lsid_lr", "options": {"seeds": 2}, "base_config": {"train": {"steps": 4}}}
    target = tmp_path / "runs" / "lsid_lr" / "r1" / "manifest.json"  # the folders do not exist yet
    write_json_uri(target.as_uri(), data)
    assert target.read_text(encoding="utf-8") == json_text(data)
    assert read_json_object(str(target), "a manifest") == data
    assert json.loads(target.read_text(encoding="utf-8")) == data


def test_a_storage_that_refuses_the_write_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=r"^cannot write file://.*/file/r1/manifest.json: ") as err:
        write_json_uri((tmp_path / "file").as_uri() + "/r1/manifest.json", {})
    assert "\n" not in str(err.value)
