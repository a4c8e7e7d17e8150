"""Saving and loading benchmark tables as compact ``.npz`` files.

``save`` writes a byte-reproducible archive (fixed member order and timestamps), so rebuilding the
embedded table from its source package gives an identical file that a test can compare.

A file declares how its rows are found with the ``index_kind`` member: absent or ``"id"`` (dense:
row = the space's enumeration id; format 1, needs ``iso_class``) or ``"fingerprint"`` (a partial
table: ``fingerprint_index int32[N, W]`` sorted, see :mod:`jaxnas.benchmarks.partial`; written as
format 2 so a jaxnas that cannot search it refuses it instead of reading rows as ids).
"""

from __future__ import annotations

import io
import pathlib
import zipfile

import numpy as np

FORMAT_VERSION = 1  # dense tables (unchanged, so the embedded NB201 file rebuilds byte-identical)
PARTIAL_FORMAT_VERSION = 2  # fingerprint-indexed tables
REQUIRED = ("name", "datasets", "num_seeds", "iso_class", "format_version")
REQUIRED_BY_KIND = {
    "id": REQUIRED,
    "fingerprint": ("name", "datasets", "num_seeds", "fingerprint_index", "format_version"),
}


def index_kind(arrays) -> str:
  """The file's declared index kind (``"id"`` when it declares none)."""
  return str(arrays["index_kind"]) if "index_kind" in arrays else "id"


def save(path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
  """Writes ``arrays`` to ``path`` as a deterministic compressed ``.npz``."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  kind = index_kind(arrays)
  if kind not in REQUIRED_BY_KIND:
    raise ValueError(f"unknown index_kind {kind!r}; valid: {', '.join(REQUIRED_BY_KIND)}")
  version = FORMAT_VERSION if kind == "id" else PARTIAL_FORMAT_VERSION
  arrays = dict(arrays, format_version=np.int32(version))
  return write_npz(path, arrays)


def load_arrays(path, build_hint: str) -> dict[str, np.ndarray]:
  """Reads a table; missing or corrupt files raise an error naming the file and ``build_hint``."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"benchmark table {path} not found; build it with: {build_hint}")
  try:
    with np.load(path, allow_pickle=False) as z:
      arrays = {k: z[k] for k in z.files}
  except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError, OSError...
    raise ValueError(
        f"benchmark table {path} is corrupt or not a jaxnas table ({type(e).__name__}: {e}); "
        f"rebuild it with: {build_hint}") from None
  kind = index_kind(arrays)
  if kind not in REQUIRED_BY_KIND:
    raise ValueError(f"benchmark table {path} declares index_kind {kind!r}; valid: "
                     f"{', '.join(REQUIRED_BY_KIND)}; rebuild it with: {build_hint}")
  missing = [k for k in REQUIRED_BY_KIND[kind] if k not in arrays]
  if missing:
    raise ValueError(
        f"benchmark table {path} lacks {', '.join(missing)}; rebuild it with: {build_hint}")
  if not any(np.issubdtype(v.dtype, np.floating) for v in arrays.values()):
    raise ValueError(f"benchmark table {path} has no metric table; rebuild it with: {build_hint}")
  want = FORMAT_VERSION if kind == "id" else PARTIAL_FORMAT_VERSION
  if int(arrays["format_version"]) != want:
    raise ValueError(
        f"benchmark table {path} has format {int(arrays['format_version'])}, this jaxnas reads "
        f"{want} for index kind {kind!r}; rebuild it with: {build_hint}")
  return arrays


def write_npz(path, arrays: dict) -> pathlib.Path:
  """An ``.npz`` with deterministic bytes (sorted members, fixed dates and modes, no pickles):
  a rebuild from the same inputs is byte-identical."""
  path = pathlib.Path(path)
  with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for k in sorted(arrays):
      buf = io.BytesIO()
      np.lib.format.write_array(buf, np.asanyarray(arrays[k]), allow_pickle=False)
      info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED
      info.external_attr = 0o644 << 16
      zf.writestr(info, buf.getvalue(), compresslevel=9)
  return path
