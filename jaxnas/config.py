"""Loading ``ml_collections`` experiment configs and applying ``--config.key=value`` overrides.

Configs are Python files with ``get_config(arg=None) -> ConfigDict`` (big_vision style). Overrides
may only set keys the config already has: a misspelt key is an error that names it and lists the
valid keys at that level, before anything is compiled or written.
"""

from __future__ import annotations

import ast
import importlib.util
import pathlib

import ml_collections


def load_config(spec: str) -> ml_collections.ConfigDict:
  """Loads ``path/to/file.py`` or ``path/to/file.py:arg``."""
  path, _, arg = spec.partition(":")
  p = pathlib.Path(path)
  if not p.is_file():
    raise FileNotFoundError(f"config file {path} not found")
  mod_spec = importlib.util.spec_from_file_location(f"jaxnas_config_{p.stem}", p)
  module = importlib.util.module_from_spec(mod_spec)
  mod_spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ValueError(f"config file {path} defines no get_config()")
  cfg = module.get_config(arg) if arg else module.get_config()
  return cfg


def _parse_value(text: str, old):
  if isinstance(old, bool):
    low = text.lower()
    if low in ("true", "1", "yes"):
      return True
    if low in ("false", "0", "no"):
      return False
    raise ValueError(f"expected a boolean, got {text!r}")
  if isinstance(old, int):
    return int(text)
  if isinstance(old, float):
    return float(text)
  if isinstance(old, (tuple, list)):
    val = ast.literal_eval(text)
    return type(old)(val if isinstance(val, (tuple, list)) else (val,))
  if old is None:
    try:
      return ast.literal_eval(text)
    except (ValueError, SyntaxError):
      return text
  return text


def override(cfg: ml_collections.ConfigDict, dotted: str, text: str) -> None:
  """Sets ``cfg.<dotted> = text`` parsed to the type of the current value."""
  parts = dotted.split(".")
  node = cfg
  for i, part in enumerate(parts):
    keys = list(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
    if part not in keys:
      where = ".".join(parts[:i]) or "config"
      raise ValueError(f"unknown config key {dotted!r} ({part!r} is not in {where}); valid: "
                       f"{', '.join(sorted(keys))}")
    if i == len(parts) - 1:
      old = node[part]
      try:
        new = _parse_value(text, old)
      except ValueError as e:
        raise ValueError(f"bad value for config key {dotted!r}: {e}") from None
      with node.ignore_type():
        node[part] = new
    else:
      node = node[part]


def to_dict(cfg) -> dict:
  """A JSON-friendly plain dict of a ConfigDict."""
  return cfg.to_dict() if isinstance(cfg, ml_collections.ConfigDict) else dict(cfg)
