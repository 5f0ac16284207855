"""Doorstep edge package."""
