"""Real raw files for the SID tests: the DNG writer of ``benchmarks/sid_folder.py`` (16-bit uncompressed RGGB with
the Sony levels, which rawpy reads back bit-exactly; the tag set is explained in
tests/restore_core/data/test_sid_raw.py)."""

import importlib.util
import os

from restore_core.data.lowlight import BLACK_LEVEL as BLACK  # noqa: F401  (the Sony α7S II levels the loader assumes)
from restore_core.data.lowlight import WHITE_LEVEL as WHITE  # noqa: F401
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("sid_folder", os.path.join(ROOT, "benchmarks", "sid_folder.py"))
_sid_folder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sid_folder)
write_dng = _sid_folder.write_dng
