"""A fingerprint of prepared data: the SHA-256 of every array in it, with its shape and dtype, in a fixed order.
Two runs with the same fingerprint trained and evaluated on the same numbers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def data_fingerprint(data: Any) -> str:
    """``sha256:<hex>`` of ``data`` (nested mappings, sequences, arrays, tensors and plain values)."""
    digest = hashlib.sha256()
    _feed(digest, data)
    return f"sha256:{digest.hexdigest()}"


def _feed(digest, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        digest.update(f"array{array.shape}{array.dtype.str}".encode())
        digest.update(array.tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"map{len(value)}".encode())
        for key in sorted(value, key=str):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    elif hasattr(value, "__dict__") and not isinstance(value, type):  # a dataclass or plain object of arrays
        _feed(digest, {k: v for k, v in vars(value).items() if not k.startswith("_")})
    else:
        digest.update(repr(value).encode())
