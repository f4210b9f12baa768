"""Request signing: a signed request verifies; unsigned, altered, stale or replayed ones fail."""

from __future__ import annotations

import pytest

from shared.errors import AuthenticationError, ConfigurationError, IntegrityError
from shared.protocol.signing import (
    HEADER_BODY_SHA256,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NonceCache,
    sign_request,
    verify_request,
)

KEY = b"0123456789abcdef-link-key"
KEYS = {"sat-1": KEY}
NOW = 1_800_000_000.0


def _verify(
    headers: dict[str, str],
    *,
    method: str = "PUT",
    path: str = "/v1/transfers/t1/chunks/0",
    body: bytes = b"chunk",
    nonces: NonceCache | None = None,
    now: float = NOW,
) -> str:
    return verify_request(
        KEYS, method, path, headers, body, nonces if nonces is not None else NonceCache(), now=now
    )


def test_round_trip_returns_key_id() -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    assert _verify(headers) == "sat-1"


def test_header_names_are_case_insensitive() -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    assert _verify({k.lower(): v for k, v in headers.items()}) == "sat-1"


@pytest.mark.parametrize(
    "header", [HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_BODY_SHA256, HEADER_SIGNATURE]
)
def test_missing_header_is_refused(header: str) -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    del headers[header]
    with pytest.raises(AuthenticationError, match="not signed"):
        _verify(headers)


@pytest.mark.parametrize(
    ("what", "kwargs"),
    [
        ("path", {"path": "/v1/transfers/t2/chunks/0"}),
        ("method", {"method": "POST"}),
    ],
)
def test_altered_request_is_refused(what: str, kwargs: dict) -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    with pytest.raises(AuthenticationError):
        _verify(headers, **kwargs)


def test_body_damaged_in_transit_is_an_integrity_fault_and_burns_no_nonce() -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    nonces = NonceCache()
    with pytest.raises(IntegrityError, match="damaged in transit"):
        _verify(headers, body=b"chunK", nonces=nonces)
    assert _verify(headers, body=b"chunk", nonces=nonces) == "sat-1"


def test_altered_body_with_matching_digest_fails_signature() -> None:
    import hashlib

    headers = sign_request(KEY, "sat-1", "PUT", "/v1/transfers/t1/chunks/0", b"chunk", now=NOW)
    headers[HEADER_BODY_SHA256] = hashlib.sha256(b"evil").hexdigest()
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verify(headers, body=b"evil")


def test_query_string_is_signed() -> None:
    headers = sign_request(KEY, "sat-1", "GET", "/v1/transfers?limit=1", b"", now=NOW)
    assert _verify(headers, method="GET", path="/v1/transfers?limit=1", body=b"") == "sat-1"
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verify(headers, method="GET", path="/v1/transfers?limit=100", body=b"")


def test_wrong_key_and_unknown_key_id_are_refused() -> None:
    headers = sign_request(b"another-key-of-16b", "sat-1", "PUT", "/p", b"x", now=NOW)
    with pytest.raises(AuthenticationError, match="bad signature"):
        _verify(headers, path="/p", body=b"x")
    headers = sign_request(KEY, "sat-9", "PUT", "/p", b"x", now=NOW)
    with pytest.raises(AuthenticationError, match="unknown key id") as refused:
        _verify(headers, path="/p", body=b"x")
    assert "sat-1" not in str(refused.value)  # the valid key ids are not told to a stranger


@pytest.mark.parametrize("offset", [301.0, -301.0])
def test_stale_request_is_refused(offset: float) -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/p", b"x", now=NOW + offset)
    with pytest.raises(AuthenticationError, match="stale"):
        _verify(headers, path="/p", body=b"x")


def test_within_skew_is_accepted() -> None:
    headers = sign_request(KEY, "sat-1", "PUT", "/p", b"x", now=NOW - 299.0)
    assert _verify(headers, path="/p", body=b"x") == "sat-1"


def test_replay_is_refused() -> None:
    nonces = NonceCache()
    headers = sign_request(KEY, "sat-1", "PUT", "/p", b"x", now=NOW)
    _verify(headers, path="/p", body=b"x", nonces=nonces)
    with pytest.raises(AuthenticationError, match="replayed"):
        _verify(headers, path="/p", body=b"x", nonces=nonces, now=NOW + 1)


def test_failed_verification_does_not_burn_the_nonce() -> None:
    nonces = NonceCache()
    headers = sign_request(KEY, "sat-1", "PUT", "/p", b"x", now=NOW)
    with pytest.raises(AuthenticationError):
        _verify(headers, path="/q", body=b"x", nonces=nonces)
    assert _verify(headers, path="/p", body=b"x", nonces=nonces) == "sat-1"


def test_nonce_cache_is_bounded_without_opening_a_replay_window() -> None:
    nonces = NonceCache(capacity=3)
    for i in range(5):
        assert nonces.check_and_add(f"n{i}", NOW + i, now=NOW + 5)
    assert len(nonces) == 3
    # n0 and n1 were evicted, but their timestamps now lie at or below the floor.
    assert not nonces.check_and_add("n0", NOW, now=NOW + 5)
    assert not nonces.check_and_add("n1", NOW + 1, now=NOW + 5)
    assert not nonces.check_and_add("n4", NOW + 4, now=NOW + 5)
    assert nonces.check_and_add("n5", NOW + 5, now=NOW + 5)


def test_nonce_cache_expires_old_entries() -> None:
    nonces = NonceCache(capacity=10, ttl_s=600)
    assert nonces.check_and_add("a", NOW, now=NOW)
    assert nonces.check_and_add("b", NOW + 700, now=NOW + 700)
    assert len(nonces) == 1


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "no link key"),
        ("", "no link key"),
        ("short-key", "is 9 bytes"),
        ("change-me-to-a-long-random-key", "example key"),
        ("CHANGE-ME-please-0123456789", "example key"),
    ],
)
def test_both_services_refuse_a_key_that_protects_nothing(secret: str | None, reason: str) -> None:
    from ground_station.settings import GroundSettings
    from satellite_node.settings import SatelliteSettings

    with pytest.raises(ConfigurationError, match=reason):
        SatelliteSettings(link_key=secret).link_key_bytes()
    with pytest.raises(ConfigurationError, match=reason):
        GroundSettings(link_key=secret).link_keys()


def test_the_example_key_from_deploy_env_is_refused() -> None:
    from pathlib import Path

    from shared.protocol.signing import link_key

    example = Path(__file__).resolve().parents[3] / "deploy" / ".env.example"
    line = next(x for x in example.read_text().splitlines() if x.startswith("SAT_LINK_KEY="))
    with pytest.raises(ConfigurationError, match="example key"):
        link_key(line.split("=", 1)[1], "SAT_LINK_KEY", "GS_LINK_KEY")
    assert link_key("a-secret-0123456789", "SAT_LINK_KEY", "GS_LINK_KEY") == b"a-secret-0123456789"
