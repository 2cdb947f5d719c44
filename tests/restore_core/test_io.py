"""JSON written where Ray writes a run: a local folder, or a URI through pyarrow's filesystems."""

from __future__ import annotations

import json
import os

import pytest

from restore_core.errors import UserError
from restore_core.io import json_text, read_json_object, write_json_atomic, write_json_uri


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


def test_an_atomic_write_keeps_its_temporary_file_in_the_folder_it_is_given(tmp_path, monkeypatch):
    """For a folder that something copies file by file as it lists it (Ray's upload of its staging folder): the file
    appears whole under its name, and nothing else ever appears there."""
    uploaded, aside = tmp_path / "uploaded", tmp_path / "aside"
    uploaded.mkdir()
    aside.mkdir()
    renames, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: (renames.append((source, target)),
                                                                 replace(source, target))[1])
    write_json_atomic(str(uploaded / "status.json"), {"status": "terminated"}, str(aside))
    write_json_atomic(str(aside / "beside.json"), {})
    ((first, target), (second, _)) = renames
    assert (os.path.dirname(first), target) == (str(aside), str(uploaded / "status.json"))
    assert os.path.dirname(second) == str(aside)  # without a folder: beside the file
    assert sorted(os.listdir(uploaded)) == ["status.json"] and sorted(os.listdir(aside)) == ["beside.json"]
    assert json.loads((uploaded / "status.json").read_text()) == {"status": "terminated"}
