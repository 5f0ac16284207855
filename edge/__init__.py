"""Doorstep edge agent: the doorbell and lock on the Raspberry Pi (or the simulated board)."""

__version__ = "0.1.0"
