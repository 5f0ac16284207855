"""docs/webhooks.md's table of event types names exactly the hub's catalogue: the
partners' documentation cannot drift from what the hub sends."""

from __future__ import annotations

import re
from pathlib import Path

from hub.webhooks.catalogue import EVENT_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def test_the_documented_event_types_are_the_catalogue() -> None:
    text = DOC.read_text()
    table = text[text.index("## Event types") :].split("\n\n")[1]
    documented = set()
    for line in table.splitlines()[2:]:  # after the header and its rule
        first_cell = line.split("|")[1]
        documented |= set(re.findall(r"`(doorstep\.[a-z.]+)`", first_cell))
    assert documented == set(EVENT_TYPES)
