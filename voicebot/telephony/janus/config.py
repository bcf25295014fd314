"""How voicebot reaches the Janus SIP gateway: API URL, SIP account, trunk, codec.

A campaign file or ``voicebot call`` fills a :class:`JanusConfig`; the password never sits in a
file checked into git: it comes from the environment variable named by ``secret_env`` (or, for
tests, ``secret``), is held as a :class:`pydantic.SecretStr` (shown as ``**********``), and is
sent only to Janus in the ``register`` request.
"""

from __future__ import annotations

import ipaddress
import os
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from voicebot.telephony.rtc import Codec

_SIP_URI = re.compile(r"sips?:[^@\s]+@[^\s]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AccountKind(StrEnum):
    """How the SIP account is used."""

    GUEST = "guest"
    """No registration: calls go straight to the trunk (an IP-authenticated SIP trunk or PBX)."""
    REGISTERED = "registered"
    """REGISTER with the registrar first; each call then runs on a helper handle."""


class JanusConfig(BaseModel):
    """The gateway settings of a campaign (``gateway:`` in the campaign file).

    Attributes:
        url: Janus's REST API, e.g. ``http://127.0.0.1:8088/janus``.
        account: our SIP identity, ``sip:user@domain``.
        kind: ``guest`` or ``registered``.
        registrar: the registrar/proxy (``sip:host:port``); required for ``registered``.
        authuser: the authentication user name if it differs from the account's user.
        display_name: the name shown with our calls.
        secret_env: name of the environment variable holding the SIP password.
        secret: the password itself (tests only; prefer ``secret_env``).
        trunk: where a number is called: a SIP URI with ``{number}`` in it.
        caller_id_header: the header that carries the caller id on registered accounts.
        codec: the audio codec offered: ``pcmu``, ``pcma`` or ``opus``.
        host: the local IP address the bot's media (ICE) uses.
        keepalive: seconds between session keepalives.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "http://127.0.0.1:8088/janus"
    account: str = "sip:voicebot@127.0.0.1"
    kind: AccountKind = AccountKind.GUEST
    registrar: str | None = None
    authuser: str | None = None
    display_name: str | None = None
    secret_env: str | None = "VOICEBOT_SIP_SECRET"
    secret: SecretStr | None = Field(default=None, repr=False)
    trunk: str = "sip:{number}@127.0.0.1:5060"
    caller_id_header: str = "P-Asserted-Identity"
    codec: Codec = Codec.PCMU
    host: str = "127.0.0.1"
    keepalive: float = Field(default=25.0, gt=0, le=55)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "expected the HTTP(S) URL of Janus's API, e.g. http://127.0.0.1:8088/janus"
            )
        return value.rstrip("/")

    @field_validator("account")
    @classmethod
    def _check_account(cls, value: str) -> str:
        if not _SIP_URI.fullmatch(value):
            raise ValueError("expected a SIP URI such as sip:voicebot@example.com")
        return value

    @field_validator("trunk")
    @classmethod
    def _check_trunk(cls, value: str) -> str:
        if "{number}" not in value or not value.startswith(("sip:", "sips:")):
            raise ValueError("expected a SIP URI with {number} in it, e.g. sip:{number}@10.0.0.5")
        return value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("expected this host's IP address, e.g. 192.0.2.10") from None
        return value

    @field_validator("secret_env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("expected an environment variable name such as VOICEBOT_SIP_SECRET")
        return value

    @model_validator(mode="after")
    def _check_registered(self) -> JanusConfig:
        if self.kind is AccountKind.REGISTERED and self.registrar is None:
            raise ValueError("kind registered: a registrar (sip:host:port) is required")
        return self

    @property
    def domain(self) -> str:
        """The account's domain (``example.com`` of ``sip:bot@example.com``)."""
        return self.account.split("@", 1)[1]

    def password(self) -> str | None:
        """The SIP password: ``secret`` if set, else the variable named by ``secret_env``."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        if self.secret_env is not None:
            return os.environ.get(self.secret_env) or None
        return None

    def uri_for(self, number: str) -> str:
        """The SIP URI that reaches ``number`` through the trunk."""
        return self.trunk.format(number=number)

    @classmethod
    def from_env(cls, **overrides: object) -> JanusConfig:
        """Settings from the environment, then ``overrides``.

        Reads ``VOICEBOT_JANUS_URL``, ``_ACCOUNT``, ``_TRUNK``, ``_HOST`` (the bot's media address),
        ``_CODEC`` (pcmu, pcma or opus) and ``_REGISTRAR`` (which makes the account
        ``registered``).
        """
        env = {
            "url": "VOICEBOT_JANUS_URL",
            "account": "VOICEBOT_JANUS_ACCOUNT",
            "trunk": "VOICEBOT_JANUS_TRUNK",
            "registrar": "VOICEBOT_JANUS_REGISTRAR",
            "host": "VOICEBOT_JANUS_HOST",
            "codec": "VOICEBOT_JANUS_CODEC",
        }
        values: dict[str, object] = {k: os.environ[v] for k, v in env.items() if os.environ.get(v)}
        if "registrar" in values:
            values["kind"] = AccountKind.REGISTERED
        values.update(overrides)
        return cls.model_validate(values)
