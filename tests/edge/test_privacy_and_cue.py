"""The edge agent on the simulated board: the privacy switch and the indoor cue.

Privacy: while on, a ring is sent WITHOUT a picture, on-demand snapshots and live view
are refused with reason "privacy", and the setting survives a restart of the agent.
Cue: the indicator (real gpiozero LED/buzzer on mock pins) shows the cue's pattern
and the configured announcement command (a real script) runs with the right text.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from edge.cue import IndoorCues, cue_text
from edge.hardware_setup import agent_options
from edge.options import AgentOptions
from firmware_config.device_config import load_device_config
from firmware_config.errors import ConfigError
from hardware.interfaces import IndicatorPattern
from protocol import (
    AckOutcome,
    DoorbellRang,
    LockChanged,
    PrivacyChanged,
    RejectReason,
    SetPrivacy,
    Snapshot,
    TakeSnapshot,
)
from protocol.commands import CueKind, IndoorCue, StartLiveView
from tests.edge.rig import Rig

SCRIPT = 'printf "%s\\n" "$2" >> "$1"\n'


def _announcer(root: Path) -> tuple[tuple[str, ...], Path]:
    script = root / "announce.sh"
    script.write_text(SCRIPT)
    out = root / "announced.txt"
    return ("/bin/sh", str(script), str(out), "{text}"), out


def _lines(path: Path, count: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            break
        time.sleep(0.01)
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def rig(plain_broker):
    root = Path(tempfile.mkdtemp(prefix="doorstep-edge-privacy-"))
    command, out = _announcer(root)
    options = AgentOptions(
        hold_s=0.3,
        cooldown_s=0.05,
        heartbeat_s=3600,
        frame_interval_s=0.05,
        announce_command=command,
        announce_timeout_s=5,
    )
    r = Rig(plain_broker, root, options=options).start()
    r.announced = out  # type: ignore[attr-defined]
    r.view.wait(lambda ms: any(isinstance(m, LockChanged) for m in ms))
    yield r
    r.stop()


def _ring(rig: Rig) -> DoorbellRang:
    before = len(rig.view.of(DoorbellRang))
    time.sleep(0.06)  # past the agent's re-ring cooldown
    rig.board.ring()
    rig.view.wait(lambda ms: sum(isinstance(m, DoorbellRang) for m in ms) > before)
    return rig.view.of(DoorbellRang)[-1]


def _answer(rig: Rig, command) -> object:
    count = len(rig.acks())
    rig.send(command)
    return next(a for a in rig.wait_acks(count + 1) if a.command_id == command.id)


def test_privacy_stops_every_picture_and_survives_a_restart(rig):
    rig.board.visitor = True
    assert _ring(rig).snapshot_id is not None  # the camera works before the switch

    ack = _answer(rig, rig.command(SetPrivacy, privacy=True))
    assert ack.outcome is AckOutcome.EXECUTED
    rig.view.wait(lambda ms: any(isinstance(m, PrivacyChanged) for m in ms))
    assert rig.view.of(PrivacyChanged)[-1].privacy is True
    pictures = {m.meta.id for m in rig.view.of(Snapshot)}

    ring = _ring(rig)
    assert ring.snapshot_id is None
    for command in (
        rig.command(TakeSnapshot),
        rig.command(StartLiveView, duration_s=2, interval_ms=100),
    ):
        ack = _answer(rig, command)
        assert (ack.outcome, ack.reason) == (AckOutcome.REJECTED, RejectReason.PRIVACY)

    # A reboot of the agent: the switch is read back from its durable state.
    rig.agent.stop()
    rig.agent = rig.new_agent()
    rig.start()
    assert rig.agent.privacy is True
    assert _ring(rig).snapshot_id is None
    ack = _answer(rig, rig.command(TakeSnapshot))
    assert ack.reason is RejectReason.PRIVACY
    # (the restarted agent resends what the hub has not confirmed: the same pictures)
    taken = {m.meta.id for m in rig.view.of(Snapshot)}
    assert taken == pictures, "no picture may leave while privacy is on"

    ack = _answer(rig, rig.command(SetPrivacy, privacy=False))
    assert ack.outcome is AckOutcome.EXECUTED
    time.sleep(0.3)  # the frame buffer refills once the camera resumes
    ring = _ring(rig)
    assert ring.snapshot_id is not None
    rig.view.wait(
        lambda ms: any(isinstance(m, Snapshot) and m.meta.id == ring.snapshot_id for m in ms)
    )


def test_cue_plays_the_pattern_and_announces_with_the_name(rig):
    ack = _answer(rig, rig.command(IndoorCue, cue=CueKind.CARER_AT_DOOR, who="Sam"))
    assert ack.outcome is AckOutcome.EXECUTED
    assert rig.board.indicator.current is IndicatorPattern.NOTIFYING
    assert _lines(rig.announced, 1) == ["Sam, your carer, is at the door"]


def test_remote_unlock_gives_the_family_unlocked_cue_by_itself(rig):
    ack = _answer(rig, rig.command(hold_s=0.3))
    assert ack.outcome is AckOutcome.EXECUTED
    assert rig.board.indicator.current is IndicatorPattern.UNLOCKING
    assert _lines(rig.announced, 1) == ["Your family is unlocking the door"]


def test_give_returns_before_the_announcement_runs(tmp_path):
    gate, out = tmp_path / "gate", tmp_path / "out.txt"
    waiter = tmp_path / "wait.sh"
    waiter.write_text('while [ ! -e "$1" ]; do sleep 0.01; done; printf "%s\\n" "$3" >> "$2"\n')
    cues = IndoorCues(None, ("/bin/sh", str(waiter), str(gate), str(out), "{text}"), timeout_s=10)
    # If give() waited for the command, it would never return before the gate opens.
    assert cues.give(CueKind.FAMILY_UNLOCKED, who="Anna") == "Anna is unlocking the door"
    assert not out.exists()
    gate.touch()
    assert _lines(out, 1) == ["Anna is unlocking the door"]
    cues.close()
    assert cues.announced == 1


def test_a_slow_or_missing_announcer_is_stopped_and_logged(tmp_path):
    slow = tmp_path / "slow.sh"
    slow.write_text("sleep 30\n")
    cues = IndoorCues(None, ("/bin/sh", str(slow), "{text}"), timeout_s=0.2)
    cues.give(CueKind.FAMILY_UNLOCKED)
    cues.close(timeout=10)
    assert cues.announced == 0

    missing = IndoorCues(None, (str(tmp_path / "no-such-program"), "{text}"))
    missing.give(CueKind.CARER_AT_DOOR)
    missing.close(timeout=10)
    assert missing.announced == 0


def test_a_name_never_becomes_an_option():
    assert cue_text(CueKind.CARER_AT_DOOR, "--help") == "help, your carer, is at the door"
    assert cue_text(CueKind.CARER_AT_DOOR, "  ") == "Your carer is at the door"


def test_the_device_file_sets_the_announcement_command(tmp_path):
    example = Path(__file__).resolve().parents[2] / "firmware_config" / "examples"
    text = (example / "simulated.toml").read_text()
    text = text.replace(
        "buzzer_pin = 24\n",
        'buzzer_pin = 24\nannounce_command = ["espeak", "-v", "en-gb", "{text}"]\n'
        "announce_timeout_s = 4\n",
    )
    path = tmp_path / "door.toml"
    path.write_text(text)
    options = agent_options(load_device_config(path))
    assert options.announce_command == ("espeak", "-v", "en-gb", "{text}")
    assert options.announce_timeout_s == 4
    path.write_text(text.replace('["espeak", "-v", "en-gb", "{text}"]', "[]"))
    with pytest.raises(ConfigError, match="announce_command"):
        load_device_config(path)
