"""Doorstep mobile_api package."""
