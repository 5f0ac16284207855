"""The Doorstep protocol conformance kit: a black-box tester for any device.

It connects to the device's broker as a hub would, watches what the device publishes
and sends it signed probes (one valid command, then replayed, expired, forged,
wrong-device and stale ones), and reports PASS / FAIL / NOT CHECKED per check.
It imports only ``protocol`` (and ``firmware_config`` for file locations).

    >>> from doorstep.conformance import KitOptions, run, render_text   # doctest: +SKIP
    >>> print(render_text(run(KitOptions(target, "door-1a2b3c", hub_key, device_pub))))
"""

from .report import CheckResult, Report, Status, render_json, render_text
from .runner import KitOptions, run
from .traffic import BrokerTarget

__all__ = [
    "BrokerTarget",
    "CheckResult",
    "KitOptions",
    "Report",
    "Status",
    "render_json",
    "render_text",
    "run",
]
