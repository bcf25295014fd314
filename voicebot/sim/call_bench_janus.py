"""The bench's Janus carrier: calls go through a real Janus SIP gateway to SIPp phones.

Janus and SIPp run inside a private network namespace the bench creates (as the integration
tests do: root, Debian's janus and sip-tester packages); the far end answers PCMA and presses 9
as an RFC 2833 event during the disclosure, so each call exercises answer -> disclosure and
9 -> do-not-call through the gateway, and Janus's own CPU is read from /proc.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from voicebot.sim.janus_lab import JanusLab
from voicebot.telephony import Codec
from voicebot.telephony.janus import JanusTransport
from voicebot.telephony.leg import Transport

FAR_END_PORT = 5210
FAR_END_CALLS = 100_000
"""SIPp exits after this many calls; far more than any bench places."""


class JanusCarrier:
    """A lab Janus with a SIPp far end that opts out by RFC 2833, for ``bench calls``."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="voicebot-bench-") if workdir is None else None
        )
        self.workdir = workdir or Path(self._tmp.name if self._tmp else ".")
        self.lab: JanusLab | None = None
        self.transport: JanusTransport | None = None

    async def prepare(self) -> None:
        lab = JanusLab(self.workdir)
        lab.__enter__()  # this thread (the event loop's) now lives in the lab's namespace
        self.lab = lab
        far = lab.far_end("uas_optout_2833", FAR_END_PORT, calls=FAR_END_CALLS)
        self.transport = JanusTransport(lab.config(codec=Codec.PCMA, trunk=far.uri))

    def transport_for(self, number: str, index: int) -> Transport:
        assert self.transport is not None
        return self.transport

    def gateway_cpu_seconds(self) -> float | None:
        return self.lab.janus.cpu_seconds() if self.lab is not None else None

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()
        if self.lab is not None:
            self.lab.__exit__(None, None, None)
        if self._tmp is not None:
            self._tmp.cleanup()
