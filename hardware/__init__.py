"""Doorstep hardware package."""
