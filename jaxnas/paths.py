"""Where data lives: the repo's embedded tables and the shared real-benchmark folder."""

from __future__ import annotations

import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
EMBEDDED_DIR = REPO_ROOT / "benchmarks_data"


def shared_data_dir() -> pathlib.Path:
  """The real-benchmark data folder: ``$JAXNAS_SHARED_DATA`` or ``../shared/data`` beside the repo."""
  env = os.environ.get("JAXNAS_SHARED_DATA")
  if env:
    return pathlib.Path(env)
  return REPO_ROOT.parent / "shared" / "data"
