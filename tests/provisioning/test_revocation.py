"""Removing a door revokes it at the broker: Mosquitto 2.0.11 re-reads the CRL and the
ACL on SIGHUP, so new connections fail and a session opened before is cut off from
every topic, while the other doors carry on."""

from __future__ import annotations

import shutil
import time

import paho.mqtt.client as paho
import pytest

from firmware_config.broker_config import acl_text, refresh
from protocol.mqtt import TlsFiles
from protocol.topics import TopicKind, device_filter, topic_for
from tests.fixtures.tls_broker import RawClient, start_tls_broker


def keep_copy(tls: TlsFiles, folder) -> TlsFiles:
    """Removing a device deletes its bundle; the attacker kept a copy."""
    folder.mkdir()
    for name in ("ca", "cert", "key"):
        shutil.copy(getattr(tls, name), folder / name)
    return TlsFiles(ca=folder / "ca", cert=folder / "cert", key=folder / "key")


def connects(broker, tls: TlsFiles) -> bool:
    c = RawClient(broker.host, broker.port, tls, paho.MQTTv5, "probe")
    try:
        return c.connect(timeout=3)
    finally:
        c.close()


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_revoked_device_is_cut_off_after_reload(protocol):
    with start_tls_broker(devices=2) as broker:
        victim, bystander = broker.devices
        dep = broker.deployment
        stolen = keep_copy(dep.device_tls(victim), broker.root / "stolen")

        def client(identity_or_tls, name):
            tls = (
                broker.tls(identity_or_tls) if isinstance(identity_or_tls, str) else identity_or_tls
            )
            c = RawClient(broker.host, broker.port, tls, protocol, name)
            assert c.connect()
            return c

        hub = client("hub", "hub")
        hub.subscribe(
            device_filter(TopicKind.EVENT, victim), device_filter(TopicKind.EVENT, bystander)
        )
        old_session = client(stolen, "victim-session")
        old_session.subscribe(topic_for(TopicKind.COMMAND, victim))
        bystander_c = client(bystander, "bystander")
        bystander_c.subscribe(topic_for(TopicKind.COMMAND, bystander))

        # Before: both directions work for the victim (so the test can fail).
        old_session.publish(topic_for(TopicKind.EVENT, victim, "ring"), b"before")
        hub.publish(topic_for(TopicKind.COMMAND, victim), b"cmd-before")
        assert hub.wait_until(
            lambda m: (topic_for(TopicKind.EVENT, victim, "ring"), b"before") in m
        )
        assert old_session.wait_until(lambda m: any(p == b"cmd-before" for _t, p in m))

        revoked = dep.remove_device(victim)
        assert victim not in dep.registry().devices
        assert f"user {victim}" in acl_text(dep.registry())
        changed = refresh(dep, broker.process)
        assert {p.name for p in changed} == {"crl.pem", "acl"}

        # New connections with the revoked certificate fail once the broker reloaded.
        deadline = time.monotonic() + 5
        while connects(broker, stolen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not connects(broker, stolen), f"revoked serial {revoked.serial} still connects"
        assert broker.process.running

        # The session opened before revocation can neither publish nor receive.
        old_session.publish(topic_for(TopicKind.EVENT, victim, "ring"), b"after")
        hub.publish(topic_for(TopicKind.COMMAND, victim), b"cmd-after")
        # The bystander still works both ways; its messages are the barrier.
        bystander_c.publish(topic_for(TopicKind.EVENT, bystander, "ring"), b"still-here")
        hub.publish(topic_for(TopicKind.COMMAND, bystander), b"cmd-bystander")
        assert hub.wait_until(lambda m: any(p == b"still-here" for _t, p in m))
        assert bystander_c.wait_until(lambda m: any(p == b"cmd-bystander" for _t, p in m))
        assert connects(broker, broker.tls(bystander))
        time.sleep(0.2)
        assert b"after" not in {p for _t, p in hub.messages}
        assert b"cmd-after" not in {p for _t, p in old_session.messages}
        for c in (hub, old_session, bystander_c):
            c.close()


def test_removed_device_id_is_never_reused():
    with start_tls_broker(devices=1) as broker:
        dep = broker.deployment
        door = broker.devices[0]
        dep.remove_device(door)
        assert not (dep.bundles / door).exists()
        from firmware_config.errors import DeviceExists

        with pytest.raises(DeviceExists, match="never reused"):
            dep.add_device(door)


def test_cli_remove_device_reloads_the_running_broker(capsys):
    from doorstep.cli import main

    with start_tls_broker(devices=2) as broker:
        victim, bystander = broker.devices
        stolen = keep_copy(broker.deployment.device_tls(victim), broker.root / "stolen")
        assert connects(broker, stolen)
        code = main(["provision", "remove-device", victim, "--dir", str(broker.deployment.root)])
        out = capsys.readouterr().out
        assert code == 0
        assert f"broker {broker.process.pid} reloaded" in out
        deadline = time.monotonic() + 5
        while connects(broker, stolen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not connects(broker, stolen)
        assert connects(broker, broker.tls(bystander))
        # A restart (which also closes sessions opened before) keeps the revocation.
        broker.process.restart()
        assert not connects(broker, stolen)
        assert connects(broker, broker.tls(bystander))
