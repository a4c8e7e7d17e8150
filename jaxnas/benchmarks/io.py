"""Saving and loading benchmark tables as compact ``.npz`` files.

``save`` writes a byte-reproducible archive (fixed member order and timestamps), so rebuilding the
embedded table from its source package gives an identical file that a test can compare.
"""

from __future__ import annotations

import io
import pathlib
import zipfile

import numpy as np

FORMAT_VERSION = 1
REQUIRED = ("name", "datasets", "num_seeds", "iso_class", "format_version")


def save(path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
  """Writes ``arrays`` to ``path`` as a deterministic compressed ``.npz``."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  arrays = dict(arrays, format_version=np.int32(FORMAT_VERSION))
  with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for k in sorted(arrays):
      buf = io.BytesIO()
      np.lib.format.write_array(buf, np.asanyarray(arrays[k]), allow_pickle=False)
      info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED
      info.external_attr = 0o644 << 16
      zf.writestr(info, buf.getvalue(), compresslevel=9)
  return path


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
  missing = [k for k in REQUIRED if k not in arrays]
  if missing:
    raise ValueError(
        f"benchmark table {path} lacks {', '.join(missing)}; rebuild it with: {build_hint}")
  if not any(np.issubdtype(v.dtype, np.floating) for v in arrays.values()):
    raise ValueError(f"benchmark table {path} has no metric table; rebuild it with: {build_hint}")
  if int(arrays["format_version"]) != FORMAT_VERSION:
    raise ValueError(
        f"benchmark table {path} has format {int(arrays['format_version'])}, this jaxnas reads "
        f"{FORMAT_VERSION}; rebuild it with: {build_hint}")
  return arrays
