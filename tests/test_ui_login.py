"""The UI's sign-in rules without a browser: back-off on wrong passwords, and whose proxy header is believed."""
import time
from datetime import datetime, timezone

import pytest
from argon2 import PasswordHasher

from app.config import Config, ConfigError, UserError, load_config
from app.ui.login import FIRST_WAIT_S, MAX_FAILURES, MAX_WAIT_S, WRONG, PasswordSignIn, _digest, proxy_user, wait_s
from app.ui_cli import check_sign_in
from index import access
from index.store import Library

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # the rules under test, not Argon2's cost


class Clock:
    """Now, moved on by hand."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """One clock for the sign-in rules and for the library, which stamps each failure."""
    now = Clock()
    monkeypatch.setattr(access, "_now", lambda: datetime.fromtimestamp(now(), timezone.utc).isoformat(timespec="seconds"))
    return now


@pytest.fixture
def accounts(tmp_path):
    with Library.open(tmp_path / "lib", create=True) as library:
        library.accounts._hasher = FAST
        library.accounts.add("alice", "right password", groups=["hr"])
        yield library.accounts


def fail(sign_in: PasswordSignIn, name: str, times: int) -> list[str]:
    return [sign_in.attempt(name, "wrong password").message for _ in range(times)]


def test_the_wait_starts_after_five_failures_and_doubles_up_to_a_cap():
    assert [wait_s(n) for n in range(MAX_FAILURES)] == [0.0] * MAX_FAILURES
    assert wait_s(MAX_FAILURES) == FIRST_WAIT_S and wait_s(MAX_FAILURES + 1) == 2 * FIRST_WAIT_S
    assert wait_s(MAX_FAILURES + 40) == MAX_WAIT_S


def test_a_right_password_signs_in_and_a_wrong_one_is_refused(accounts, clock):
    sign_in = PasswordSignIn(accounts, clock)
    assert sign_in.attempt(" alice ", "right password").reader.name == "alice"
    outcome = sign_in.attempt("alice", "not it at all")
    assert outcome.reader is None and outcome.message == WRONG
    assert sign_in.attempt("", "").message.startswith("Enter your name")


def test_after_five_wrong_passwords_even_the_right_one_waits_then_works(accounts, clock):
    sign_in = PasswordSignIn(accounts, clock)
    assert fail(sign_in, "alice", MAX_FAILURES) == [WRONG] * MAX_FAILURES
    locked = sign_in.attempt("alice", "right password")
    assert locked.reader is None and locked.message == "Too many failed sign-ins with this name. Try again in 1 minute."
    assert accounts.user("alice").failed_logins == MAX_FAILURES  # a refused attempt checks no password
    clock.now += FIRST_WAIT_S + 1
    assert fail(sign_in, "alice", 1) == [WRONG]  # one more try after the wait, and a longer wait after it
    assert "Try again in 2 minutes" in sign_in.attempt("alice", "right password").message
    clock.now += 2 * FIRST_WAIT_S + 1
    assert sign_in.attempt("alice", "right password").reader is not None
    assert accounts.user("alice").failed_logins == 0 and fail(sign_in, "alice", 1) == [WRONG]


def test_a_name_without_an_account_is_answered_exactly_like_one_with(accounts, clock):
    sign_in = PasswordSignIn(accounts, clock)
    assert fail(sign_in, "mallory", MAX_FAILURES + 1) == fail(sign_in, "alice", MAX_FAILURES + 1)
    clock.now += FIRST_WAIT_S + 1
    assert fail(sign_in, "mallory", 2) == fail(sign_in, "alice", 2)


def test_made_up_names_cannot_fill_the_memory(accounts, clock):
    sign_in = PasswordSignIn(accounts, clock, remembered=3)
    for i in range(10):
        fail(sign_in, f"nobody{i}", 1)
    assert list(sign_in._unknown) == [_digest(f"nobody{i}") for i in (7, 8, 9)]


HEADER, PROXIES = "X-Forwarded-User", "10.0.0.5, 192.168.1.0/24"


@pytest.mark.parametrize(("peer", "values", "expected"), [
    ("10.0.0.5", ["alice"], "alice"),
    ("192.168.1.77", [" alice "], "alice"),
    ("::ffff:10.0.0.5", ["alice"], "alice"),       # the proxy seen through an IPv6 socket
    ("10.0.0.6", ["alice"], None),                 # any other address: the header is a browser's claim
    (None, ["alice"], None),                       # loopback, not configured as a proxy here
    ("10.0.0.5", [], None),                        # through the proxy, but it named nobody
    ("10.0.0.5", [""], None),
    ("10.0.0.5", ["mallory", "alice"], None),      # a browser's copy beside the proxy's: believe neither
    ("not an address", ["alice"], None),
])
def test_only_a_configured_proxy_names_the_user(peer, values, expected):
    assert proxy_user(HEADER, PROXIES, peer, values) == expected


def test_a_loopback_proxy_is_believed_when_configured_and_no_header_means_no_proxy_mode():
    assert proxy_user(HEADER, "127.0.0.1", None, ["alice"]) == "alice"  # Streamlit reports loopback as None
    assert proxy_user(HEADER, "::1", None, ["alice"]) == "alice"
    assert proxy_user("", "127.0.0.1", None, ["alice"]) is None


def test_proxy_settings_are_checked_when_read():
    cfg = load_config(environ={"GROUNDWORK_AUTH_HEADER": "X-Forwarded-User",
                               "GROUNDWORK_AUTH_PROXIES": "127.0.0.1, 10.1.2.3/16"})
    assert cfg.auth_header == "X-Forwarded-User" and cfg.auth_proxies == "127.0.0.1/32,10.1.0.0/16"
    with pytest.raises(ConfigError, match="auth_proxies .* must be IP addresses or networks"):
        load_config(environ={"GROUNDWORK_AUTH_PROXIES": "proxy.example.org"})
    with pytest.raises(ConfigError, match="auth_header .* must be a header name"):
        load_config(environ={"GROUNDWORK_AUTH_HEADER": "X-User: admin"})


def test_the_ui_refuses_a_proxy_header_without_proxies_and_notes_proxies_it_cannot_hear():
    with pytest.raises(UserError, match="auth_proxies is empty"):
        check_sign_in(Config(auth_header="X-Forwarded-User"))
    assert "no loopback address" in check_sign_in(Config(auth_header="X-Forwarded-User", auth_proxies="10.0.0.5/32"))
    assert check_sign_in(Config(auth_header="X-Forwarded-User", auth_proxies="127.0.0.1/32")) == ""
    assert check_sign_in(Config()) == ""
