"""Who may use the UI: password sign-in with a back-off on repeated failures, and a trusted proxy's header.

No Streamlit here: app/ui/signin.py draws the form and keeps the result in the session.
A library with no accounts is a single-user library (no sign-in, full access, as before
accounts existed); once it has one account, or a proxy header is configured, everyone signs in.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from index.access import Accounts, Reader

MAX_FAILURES = 5          # wrong passwords in a row before a name is refused for a while
FIRST_WAIT_S = 60.0       # the first refusal; each further wrong password doubles it
MAX_WAIT_S = 15 * 60.0
WRONG = "Wrong name or password."
LOOPBACK = ("127.0.0.1", "::1")


def wait_s(failures: int) -> float:
    """Seconds a name is refused after `failures` wrong passwords in a row: none below MAX_FAILURES, then doubling."""
    if failures < MAX_FAILURES:
        return 0.0
    return min(FIRST_WAIT_S * 2 ** (failures - MAX_FAILURES), MAX_WAIT_S)


def refused(seconds: float) -> str:
    """The message while a name is refused; the same whether or not the name has an account."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed sign-ins with this name. Try again in {minutes} minute{'s' if minutes > 1 else ''}."


@dataclass(frozen=True)
class Outcome:
    """A sign-in attempt: the reader when it succeeded, else the message to show."""

    reader: Reader | None
    message: str = ""


class PasswordSignIn:
    """Checks names and passwords; after MAX_FAILURES wrong ones a name is refused, the wait doubling each time.

    Names with an account count failures in the library (they survive a restart); names without
    one count them here, under the same rule, so the answers never tell whether a name exists.
    """

    def __init__(self, accounts: Accounts, clock: Callable[[], float] = time.time, remembered: int = 10_000):
        self._accounts = accounts
        self._clock = clock
        self._remembered = remembered
        self._unknown: OrderedDict[bytes, tuple[int, float]] = OrderedDict()  # name's digest -> (failures, last)
        self._lock = threading.Lock()  # sessions sign in from several threads

    def attempt(self, name: str, password: str) -> Outcome:
        """Sign in as `name`, unless the name is being refused for now."""
        name = name.strip()
        if not name or not password:
            return Outcome(None, "Enter your name and your password.")
        failures, last = self._failures(name)
        left = last + wait_s(failures) - self._clock()
        if left > 0:
            return Outcome(None, refused(left))
        reader = self._accounts.verify(name, password)  # counts a wrong password of an existing account
        if reader is not None:
            return Outcome(reader)
        if self._accounts.user(name) is None:
            self._count_unknown(name, failures)
        return Outcome(None, WRONG)

    def _failures(self, name: str) -> tuple[int, float]:
        """(wrong passwords in a row, time of the last one) for a name with or without an account."""
        user = self._accounts.user(name)
        if user is None:
            with self._lock:
                return self._unknown.get(_digest(name), (0, 0.0))
        last = datetime.fromisoformat(user.last_failed_at).timestamp() if user.last_failed_at else 0.0
        return user.failed_logins, last

    def _count_unknown(self, name: str, failures: int) -> None:
        key = _digest(name)
        with self._lock:
            self._unknown[key] = (failures + 1, float(int(self._clock())))  # whole seconds, as the library keeps
            self._unknown.move_to_end(key)
            while len(self._unknown) > self._remembered:  # a flood of made-up names cannot fill the memory
                self._unknown.popitem(last=False)


def _digest(name: str) -> bytes:
    """A made-up name as it is remembered: a form's name can be megabytes long, its digest is 32 bytes."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()


def proxy_user(header: str, proxies: str, peer: str | None, values: Sequence[str]) -> str | None:
    """The name a trusted proxy signed in, or None when the request did not come through one.

    `peer` is the direct peer's address (None for loopback, as Streamlit reports it), `values`
    every instance of the header in the request: a proxy that appends rather than replaces would
    leave a browser's own copy beside its own, so anything but exactly one value is not believed.
    """
    if not header or not _trusted(peer, proxies):
        return None
    names = [v.strip() for v in values]
    return names[0] if len(names) == 1 and names[0] else None


def _trusted(peer: str | None, proxies: str) -> bool:
    networks = [ipaddress.ip_network(p.strip(), strict=False) for p in proxies.split(",") if p.strip()]
    try:
        addresses = [ipaddress.ip_address(a) for a in (LOOPBACK if peer is None else (peer,))]
    except ValueError:
        return False
    addresses = [getattr(a, "ipv4_mapped", None) or a for a in addresses]  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(a.version == n.version and a in n for a in addresses for n in networks)
