"""Moved to :mod:`jaxnas.drivers.blackbox`; this old path is the same module object, so imports,
attribute access and monkeypatching of ``jaxnas.experiments`` keep working."""

from __future__ import annotations

import sys

from jaxnas.drivers import blackbox as _moved

sys.modules[__name__] = _moved
