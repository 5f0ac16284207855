"""Where a webhook may go: never, unless the operator allows it, into the hub's own network.

A partner's URL is chosen by an admin of a home, not by the operator of the hub, so
without a guard it could make the hub POST to itself, to the router, or to a cloud
metadata service (169.254.169.254) -- a server-side request forgery. Every address a
host resolves to must be public; loopback, link-local, private, unspecified, shared
(CGNAT), reserved and multicast ones are refused, unless the operator sets
``DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS=true``. Plain ``http://`` is only for
targets that never leave the operator's network: it needs that setting, and a host
that resolves to private addresses only.

The check runs when a subscription is made (a clear error for the admin) and again on
every connection (names can be re-pointed): ``sender.post`` connects only to the
addresses this module has just approved, so a name cannot change between check and use.

    allowed_addresses("partner.example", 443, allow_private=False, plain_http=False)
    # -> ["203.0.113.7"] or BlockedTarget("... resolves to 127.0.0.1 (loopback) ...")
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

Resolver = Callable[[str, int], list[str]]  # (host, port) -> IP address strings
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SETTING = "DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS"


class BlockedTarget(OSError):
    """A webhook host that resolves to an address the hub may not send to."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def kind_of(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local, e.g. a cloud metadata service"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not public"
    return None


def allowed_addresses(
    host: str,
    port: int,
    *,
    allow_private: bool,
    plain_http: bool,
    resolve: Resolver = system_resolver,
) -> list[str]:
    """The addresses of ``host`` the hub may connect to (all of them), or BlockedTarget.

    Lets ``OSError`` from the resolver through (a name that does not resolve).
    """
    found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    if not found:
        raise OSError(f"{host!r} has no address")
    inner = [(ip, kind) for ip in found if (kind := kind_of(ip)) is not None]
    if inner and not allow_private:
        ip, kind = inner[0]
        raise BlockedTarget(
            f"webhook host {host!r} resolves to {ip} ({kind}): the hub does not send "
            f"webhooks into its own network unless the operator sets {SETTING}=true"
        )
    if plain_http and (not allow_private or len(inner) < len(found)):
        raise BlockedTarget(
            f"webhook URL to {host!r} must use https:// (http:// only to a host on the "
            f"hub's own network, with {SETTING}=true)"
        )
    return [str(ip) for ip in found]
