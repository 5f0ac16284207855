"""Provisioning and broker security, against a real Mosquitto from the generated config."""
