"""The gateway settings: validation with clear messages, the secret kept out of sight."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from voicebot.telephony import CallState, HangupCause
from voicebot.telephony.janus import AccountKind, JanusConfig, JanusTransport


def test_defaults_are_a_guest_on_loopback() -> None:
    config = JanusConfig()
    assert config.kind is AccountKind.GUEST
    assert config.url == "http://127.0.0.1:8088/janus"
    assert config.uri_for("+12025550142") == "sip:+12025550142@127.0.0.1:5060"
    assert config.domain == "127.0.0.1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "127.0.0.1:8088", "HTTP(S) URL"),
        ("account", "voicebot", "SIP URI"),
        ("trunk", "sip:gw.example.net", "{number}"),
        ("host", "localhost", "IP address"),
        ("secret_env", "MY-SECRET", "environment variable"),
        ("codec", "g729", "pcmu"),
    ],
)
def test_bad_values_say_what_was_expected(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        JanusConfig.model_validate({field: value})
    assert field in str(info.value) and message in str(info.value)


def test_registered_needs_a_registrar() -> None:
    with pytest.raises(ValidationError, match="registrar"):
        JanusConfig(kind=AccountKind.REGISTERED)


def test_the_secret_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOICEBOT_SIP_SECRET", "hunter2")
    config = JanusConfig()
    assert config.password() == "hunter2"
    explicit = JanusConfig(secret="s3cret")
    assert explicit.password() == "s3cret"
    assert "s3cret" not in repr(explicit) and "s3cret" not in str(explicit.model_dump())


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOT_JANUS_URL", "http://127.0.0.1:9000/janus/")
    monkeypatch.setenv("VOICEBOT_JANUS_REGISTRAR", "sip:192.0.2.5:5060")
    monkeypatch.setenv("VOICEBOT_JANUS_HOST", "192.0.2.10")
    config = JanusConfig.from_env(codec="pcma")
    assert config.url == "http://127.0.0.1:9000/janus"
    assert config.kind is AccountKind.REGISTERED and config.host == "192.0.2.10"
    assert config.codec.value == "pcma"


@pytest.mark.parametrize(
    ("number", "caller_id", "timeout", "headers", "uri", "message"),
    [
        ("12", "+12025550123", 10.0, None, None, "number"),
        ("+12025550142", "anonymous", 10.0, None, None, "caller_id"),
        ("+12025550142", "+12025550123", 0.0, None, None, "timeout"),
        ("+12025550142", "+12025550123", 10.0, {"X Bad": "1"}, None, "header"),
        ("+12025550142", "+12025550123", 10.0, {"X-Ok": "a\r\nVia: x"}, None, "line breaks"),
        ("+12025550142", "+12025550123", 10.0, None, "tel:+12025550100", "SIP URI"),
    ],
)
async def test_dial_refuses_bad_input_before_touching_the_gateway(
    number: str,
    caller_id: str,
    timeout: float,
    headers: dict[str, str] | None,
    uri: str | None,
    message: str,
) -> None:
    transport = JanusTransport(JanusConfig(url="http://127.0.0.1:9/janus"))
    with pytest.raises(ValueError, match=message):
        await transport.dial(number, caller_id, timeout, headers=headers, uri=uri)


@pytest.mark.integration
async def test_dial_through_an_unreachable_gateway_fails_at_once_with_a_reason() -> None:
    transport = JanusTransport(JanusConfig(url="http://127.0.0.1:9/janus"))  # discard port
    try:
        leg = await transport.dial("+12025550142", "+12025550123", 10)
    finally:
        await transport.close()
    assert leg.state is CallState.ENDED and leg.cause is HangupCause.FAILED
    assert leg.reason is not None and "Janus at http://127.0.0.1:9/janus" in leg.reason
