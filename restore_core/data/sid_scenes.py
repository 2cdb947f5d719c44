"""Choosing the SID pairs to load by scene: the Learning-to-See-in-the-Dark reproduction (seed 001) trained on 10
scenes and tested on 10, half indoor and half outdoor, chosen by scene id. SID's list files do not say which scenes
are indoor, so the ids are the user's to give (``data.scenes_train``, ``data.scenes_test``: a list or a file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from restore_core.data.paths import file_problem
from restore_core.errors import DataError


@dataclass(frozen=True)
class SidEntry:
    """One line of a SID list file: a short exposure, its ground truth and the amplification ratio."""

    short_path: Path
    long_path: Path
    ratio: float
    iso: str = ""
    aperture: str = ""


def scene_id(path: str | Path) -> str:
    """The scene of a SID file: ``./Sony/short/00001_00_0.04s.ARW`` -> ``"00001"``."""
    return Path(path).name.split("_")[0]


def scene_ids(scenes: list | str | None) -> list[str] | None:
    """Scene ids as five-digit strings, from a list (``[1, "00002"]``) or a text file with one id per line (blank
    lines and ``#`` comments skipped); None stays None (every scene).

    Raises:
        DataError: a missing or unreadable file, or an id that is not a number.
    """
    if scenes is None:
        return None
    if isinstance(scenes, str):
        path = Path(scenes)
        problem = file_problem(path)
        if problem:
            raise DataError(f"scene list '{path}' {problem}; expected one SID scene id per line, e.g. 00001")
        scenes = [line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        scenes = [line for line in scenes if line]
    ids = []
    for scene in scenes:
        text = str(scene).strip()
        if not text.isdigit():
            raise DataError(f"SID scene id {scene!r} is not a number; expected ids like 00001 or 10003")
        ids.append(f"{int(text):05d}")
    return ids


def select_entries(
    entries: list[SidEntry], list_file: str | Path, scenes: list[str] | None = None, n_scenes: int | None = None,
    max_pairs: int | None = None,
) -> list[SidEntry]:
    """The entries of the listed ``scenes`` (all when None), of the first ``n_scenes`` scenes in list order, at most
    ``max_pairs`` of them, in list order: all that is loaded, so memory grows with what is kept, not with the list.

    Raises:
        DataError: a scene that the list does not have (the message names the list), or nothing left.
    """
    if not entries:
        raise DataError(f"no pairs in '{list_file}'; expected one line per short exposure")
    if scenes is not None:
        present = {scene_id(e.short_path) for e in entries}
        missing = [s for s in scenes if s not in present]
        if missing:
            raise DataError(f"scene(s) {', '.join(missing)} not in '{list_file}' (it lists {len(present)} scenes, "
                            f"e.g. {', '.join(sorted(present)[:3])})")
        wanted = set(scenes)
        entries = [e for e in entries if scene_id(e.short_path) in wanted]
    if n_scenes is not None:
        kept = list(dict.fromkeys(scene_id(e.short_path) for e in entries))[:n_scenes]
        entries = [e for e in entries if scene_id(e.short_path) in set(kept)]
    entries = entries[:max_pairs]
    return entries


def memory_bytes(entries: list[SidEntry], height: int = 2848, width: int = 4256) -> int:
    """What :func:`load_sid_pairs` holds for ``entries`` of Sony frames (float32), and a split of the low-light task
    once stacked: a Bayer plane per pair and one RGB ground truth per distinct long exposure (pairs of a scene share
    it). For the full Sony frame a pair's plane is 48.5 MB and a ground truth 145.5 MB."""
    truths = len({e.long_path for e in entries})
    return 4 * height * width * (len(entries) + 3 * truths)
