"""Contract: every Indicator shows each pattern on the parts it has."""

from __future__ import annotations

import time

import pytest

from hardware.errors import DeviceClosed
from hardware.interfaces import Indicator, IndicatorPattern

from .conftest import IndicatorRig


def wait_for(predicate, timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_fits_the_interface(indicator_rig: IndicatorRig) -> None:
    assert isinstance(indicator_rig.indicator, Indicator)


def test_starts_idle_and_dark(indicator_rig: IndicatorRig) -> None:
    assert indicator_rig.indicator.current is IndicatorPattern.IDLE
    assert indicator_rig.led is not None
    assert not indicator_rig.led()
    if indicator_rig.buzzer is not None:
        assert not indicator_rig.buzzer()


@pytest.mark.parametrize("pattern", list(IndicatorPattern))
def test_current_is_the_last_shown(indicator_rig: IndicatorRig, pattern: IndicatorPattern) -> None:
    indicator_rig.indicator.show(pattern)
    assert indicator_rig.indicator.current is pattern


def test_unlocking_is_a_steady_light_and_two_beeps(indicator_rig: IndicatorRig) -> None:
    assert indicator_rig.led is not None
    indicator_rig.indicator.show(IndicatorPattern.UNLOCKING)
    assert indicator_rig.led()
    if indicator_rig.buzzer is not None:
        assert wait_for(lambda: indicator_rig.buzzer_edges() == 2 and not indicator_rig.buzzer())
    assert indicator_rig.led()  # still steady after the beeps


def test_notifying_blinks_until_changed(indicator_rig: IndicatorRig) -> None:
    led = indicator_rig.led
    assert led is not None
    indicator_rig.indicator.show(IndicatorPattern.NOTIFYING)
    assert wait_for(led)
    assert wait_for(lambda: not led())
    assert wait_for(led)  # it came back on: blinking, not a single flash
    indicator_rig.indicator.show(IndicatorPattern.IDLE)
    assert not led()
    time.sleep(0.6)
    assert not led()  # the blink thread stopped


def test_idle_silences_everything(indicator_rig: IndicatorRig) -> None:
    indicator_rig.indicator.show(IndicatorPattern.UNLOCKING)
    indicator_rig.indicator.show(IndicatorPattern.IDLE)
    assert indicator_rig.led is not None
    assert not indicator_rig.led()
    if indicator_rig.buzzer is not None:
        assert not indicator_rig.buzzer()


def test_show_after_close(indicator_rig: IndicatorRig) -> None:
    indicator_rig.indicator.close()
    with pytest.raises(DeviceClosed):
        indicator_rig.indicator.show(IndicatorPattern.FAULT)
