"""Doorstep firmware_config package."""
