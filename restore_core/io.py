"""Atomic file writes (a reader, or a crash, never sees half a results file) and checked reads of the JSON files
a run holds (what is wrong with a file is a :class:`DataError` naming it and what it should be)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from restore_core.errors import DataError, UserError


def write_text_atomic(path: str, text: str, temp_dir: str | None = None) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), temp_dir)


def write_bytes_atomic(path: str, data: bytes, temp_dir: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file: a reader, or a crash, sees the old file or the new one,
    never half of it. The temporary file is beside ``path``, or in ``temp_dir`` (on the same filesystem: it is
    renamed into place), for a folder whose every file something else copies as it lists them."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=temp_dir or folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str, data: Any, temp_dir: str | None = None) -> None:
    write_text_atomic(path, json_text(data), temp_dir)


def json_text(data: Any) -> str:
    """``data`` as the project writes JSON files: indented, keys sorted, one final newline."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def one_request_uploads(filesystem_):
    """``filesystem_``, or for S3 the same filesystem uploading a file smaller than an upload part in one request
    (pyarrow's ``allow_delayed_open``: one PutObject at its close) where pyarrow's default makes three, the create, the
    part and the completion of a multipart upload. A run is mostly small files: each trial's result files, its
    checkpoints, Ray's saves. An error of the upload (a bucket that is gone) then comes at the file's close."""
    from pyarrow import fs  # lazy: pyarrow (Ray's dependency) only for a storage URI

    if isinstance(filesystem_, getattr(fs, "S3FileSystem", ())):
        rebuild, (options,) = filesystem_.__reduce__()  # every option as the filesystem holds it (no credential
        if not options.get("allow_delayed_open"):  # is resolved into them: pyarrow finds those at each request)
            return rebuild({**options, "allow_delayed_open": True})
    return filesystem_


def write_json_uri(uri: str, data: Any) -> None:
    """Write ``data`` as JSON to ``uri`` (``s3://``, ``gs://``, ...) through pyarrow's filesystems, as Ray writes
    there; the folders are created as needed.

    Raises:
        UserError: the storage refused the write (credentials, permissions, a bucket that does not exist).
    """
    from pyarrow import ArrowException, fs  # lazy: pyarrow (Ray's dependency) only for a storage URI

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        filesystem = one_request_uploads(filesystem)
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with filesystem.open_output_stream(path) as out:
            out.write(json_text(data).encode("utf-8"))
    except (OSError, ArrowException) as err:
        raise UserError(f"cannot write {uri}: {str(err).splitlines()[0]}") from None


def read_text(path: str, expected: str) -> str | None:
    """The UTF-8 text of ``path`` (None: there is no such file); ``expected`` ends a message about a bad file, saying
    what the file should be."""
    data = read_bytes(path, expected)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}); {expected}") from None


def read_bytes(path: str, expected: str) -> bytes | None:
    """The bytes of ``path`` (None: there is no such file); a folder in its place or a read error is a DataError.
    A URI (``s3://...``) is read through pyarrow's filesystems, as Ray writes there."""
    if "://" in path:
        return _read_uri(path, expected)
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, not a file; {expected}")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror})") from None


def _read_uri(uri: str, expected: str) -> bytes | None:
    from pyarrow import ArrowException, fs  # lazy: pyarrow (Ray's dependency) only for a storage URI

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        kind = filesystem.get_file_info(path).type
        if kind == fs.FileType.NotFound:
            return None
        if kind == fs.FileType.Directory:
            raise DataError(f"{uri} is a folder, not a file; {expected}")
        with filesystem.open_input_stream(path) as stream:
            return stream.readall()
    except (OSError, ArrowException) as err:
        raise DataError(f"cannot read {uri} ({str(err).splitlines()[0]})") from None


def read_json_object(path: str, expected: str) -> dict[str, Any] | None:
    """The JSON object in ``path`` (None: there is no such file)."""
    text = read_text(path, expected)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        # some of json's messages end in "at" (e.g. "Invalid control character at"): say the line once
        message = err.msg.removesuffix(" at")
        raise DataError(f"{path} is not valid JSON ({message} at line {err.lineno}); {expected}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a JSON {json_kind(data)}, not an object; {expected}")
    return data


def json_kind(value: Any) -> str:
    """What a JSON value is, in words: ``object``, ``array``, ``string``, ``number``, ``true/false`` or ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"), ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def json_excerpt(value: Any, limit: int = 60) -> str:
    """``value`` as JSON for a message, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."
