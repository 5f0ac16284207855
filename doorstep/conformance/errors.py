"""Errors of the conformance kit (not verdicts about the device: those go in the report).

>>> raise ConformanceSetupError("cannot read --hub-key hub.key: ...")   # doctest: +SKIP
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Root of the kit's own errors."""


class ConformanceSetupError(ConformanceError, RuntimeError):
    """The kit could not start testing: a missing key file, a broker that refused it, ..."""
