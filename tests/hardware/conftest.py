"""Fixtures for the hardware contract suite: a fresh MockFactory per test, and one "rig"
per implementation of each interface.

A rig is the device under test plus the hands that act on the world around it
(press the button, swing the door, jam the bolt), so one test body runs against
the gpiozero driver on bare mock pins and against the simulated board alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from hardware.gpio_indicator import GpioIndicator
from hardware.gpio_inputs import GpioDoorbell, GpioDoorContact
from hardware.gpio_lock import GpioLock
from hardware.interfaces import Doorbell, DoorContact, Indicator, LockActuator
from hardware.simulated import SimulatedBoard


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """A private MockFactory, as gpiozero's own tests use; never the global one."""
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def board() -> Iterator[SimulatedBoard]:
    sim = SimulatedBoard(travel_s=0.02)
    yield sim
    sim.close()


@dataclass
class BellRig:
    bell: Doorbell
    press: Callable[[], None]
    release: Callable[[], None]


@dataclass
class LockRig:
    lock: LockActuator
    relay_energised: Callable[[], bool]
    fail_secure: bool = True
    jam: Callable[[], None] | None = None
    unjam: Callable[[], None] | None = None


@dataclass
class ContactRig:
    contact: DoorContact
    open: Callable[[], None]
    shut: Callable[[], None]


@dataclass
class IndicatorRig:
    indicator: Indicator
    led: Callable[[], bool] | None
    buzzer: Callable[[], bool] | None
    buzzer_edges: Callable[[], int] = field(default=lambda: 0)


@pytest.fixture(params=["gpio-mock", "gpio-mock-no-debounce", "simulated-board"])
def bell_rig(request: pytest.FixtureRequest, mock_factory: MockFactory) -> Iterator[BellRig]:
    if request.param == "simulated-board":
        sim = SimulatedBoard()
        yield BellRig(sim.doorbell, sim.press_bell, sim.release_bell)
        sim.close()
        return
    bounce = 0 if request.param == "gpio-mock-no-debounce" else 50
    bell = GpioDoorbell(27, bounce_ms=bounce, pin_factory=mock_factory)
    pin = mock_factory.pin(27)
    yield BellRig(bell, pin.drive_low, pin.drive_high)
    bell.close()


def _connected_lock(factory: MockFactory, *, active_high: bool) -> tuple[GpioLock, Callable]:
    """Relay wired straight to the sensor input: the bolt follows at once, never jams.

    The relay level is HIGH when energised (active_high) and energised means
    released (fail-secure), so the sensor reads HIGH for released.
    """
    sensor = factory.pin(5)
    relay = factory.pin(17, pin_class=MockConnectedPin, input_pin=sensor)
    lock = GpioLock(
        17,
        active_high=active_high,
        position_pin=5,
        position_active_high=not active_high,
        pin_factory=factory,
    )
    # Settle the world: the sensor shows what the relay says now.
    (sensor.drive_high if relay.state else sensor.drive_low)()
    return lock, relay


@pytest.fixture(
    params=[
        "gpio-mock-no-sensor",
        "gpio-mock-active-low",
        "gpio-mock-connected-sensor",
        "simulated-board",
        "simulated-board-fail-safe-active-low",
    ]
)
def lock_rig(request: pytest.FixtureRequest, mock_factory: MockFactory) -> Iterator[LockRig]:
    kind = request.param
    if kind.startswith("simulated-board"):
        fail_safe = kind.endswith("fail-safe-active-low")
        sim = SimulatedBoard(
            travel_s=0.02,
            active_high=not fail_safe,
            fail_secure=not fail_safe,
            position_active_high=not fail_safe,
        )
        yield LockRig(
            sim.lock,
            lambda: sim.relay_energised,
            fail_secure=not fail_safe,
            jam=sim.jam_lock,
            unjam=sim.unjam_lock,
        )
        sim.close()
        return
    active_high = kind != "gpio-mock-active-low"
    if kind == "gpio-mock-connected-sensor":
        lock, relay = _connected_lock(mock_factory, active_high=active_high)
    else:
        lock = GpioLock(17, active_high=active_high, pin_factory=mock_factory)
        relay = mock_factory.pin(17)
    yield LockRig(lock, lambda: bool(relay.state) == active_high)
    lock.close()


@pytest.fixture(params=["gpio-mock-normally-open", "gpio-mock-normally-closed", "simulated-board"])
def contact_rig(request: pytest.FixtureRequest, mock_factory: MockFactory) -> Iterator[ContactRig]:
    if request.param == "simulated-board":
        sim = SimulatedBoard()
        assert sim.door_contact is not None
        yield ContactRig(sim.door_contact, sim.open_door, sim.close_door)
        sim.close()
        return
    open_when_high = request.param == "gpio-mock-normally-open"
    contact = GpioDoorContact(22, open_when_high=open_when_high, pin_factory=mock_factory)
    pin = mock_factory.pin(22)
    high, low = pin.drive_high, pin.drive_low
    rig = ContactRig(contact, high if open_when_high else low, low if open_when_high else high)
    rig.shut()  # the door starts closed
    yield rig
    contact.close()


@pytest.fixture(params=["gpio-mock-led-and-buzzer", "gpio-mock-led-only", "simulated-board"])
def indicator_rig(
    request: pytest.FixtureRequest, mock_factory: MockFactory
) -> Iterator[IndicatorRig]:
    if request.param == "simulated-board":
        sim = SimulatedBoard()
        buzzer_pin = sim.factory.pin(24)
        yield IndicatorRig(
            sim.indicator,
            lambda: sim.led_lit,
            lambda: sim.buzzer_sounding,
            lambda: sum(1 for s in buzzer_pin.states[1:] if s.state),
        )
        sim.close()
        return
    with_buzzer = request.param == "gpio-mock-led-and-buzzer"
    indicator = GpioIndicator(
        led_pin=23, buzzer_pin=24 if with_buzzer else None, pin_factory=mock_factory
    )
    led = mock_factory.pin(23)
    if with_buzzer:
        buzzer = mock_factory.pin(24)
        rig = IndicatorRig(
            indicator,
            lambda: bool(led.state),
            lambda: bool(buzzer.state),
            lambda: sum(1 for s in buzzer.states[1:] if s.state),
        )
    else:
        rig = IndicatorRig(indicator, lambda: bool(led.state), None)
    yield rig
    indicator.close()
