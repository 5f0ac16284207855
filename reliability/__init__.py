"""Reliability and security figures of Doorstep, measured against real processes.

Each scenario (``reliability/s*_*.py``) starts what it needs (a private Mosquitto from the
project's generated configuration, a hub, the edge agent on the simulated board), breaks
something on purpose, and returns figures with their targets. The short sizes run inside the
normal test suite (tests/reliability/test_short.py); the full sizes on demand:

    $ .venv/bin/python -m reliability                 # every scenario, short sizes
    $ .venv/bin/python -m reliability --full --write-doc
    $ .venv/bin/python -m reliability --only broker_kill --full
"""
