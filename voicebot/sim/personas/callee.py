"""A persona brought to life on the loopback transport: it rings, answers, listens, speaks.

The persona hears the bot's real audio (it waits for the bot to stop talking by its energy),
speaks with Piper's natural English voice band-limited to the telephone band (or plays a
recording: a ``play`` step), and presses keys
as in-band tones (or RFC 4733 events when the call negotiated them). So every call the demo and
the tests place exercises the bot's real media, DTMF detection and speech recognition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from voicebot.audio import FRAME_MS, SAMPLE_RATE, Pcm, rms_dbfs
from voicebot.sim.personas.model import BOT_PAUSE_S, DtmfMethod, Persona, Pickup, Step
from voicebot.sim.personas.recording import load_recording
from voicebot.speech.dtmf import dtmf_sequence
from voicebot.speech.resample import telephone_band
from voicebot.speech.tts.base import Synthesizer
from voicebot.telephony.leg import Leg, LegStateError
from voicebot.telephony.loopback import Callee, IncomingCall, Ring, RingAction

log = logging.getLogger(__name__)

SPEECH_DBFS = -45.0
"""Bot audio louder than this counts as the bot talking."""
MAX_TALK_S = 180.0
"""A persona whose script is done stays on the line at most this long for the bot to end."""
VOICEMAIL_RECORD_S = 60.0
"""How long an answering machine records after its beep before it hangs up. Real ones allow one
to three minutes; 20 s cut off a message that says the disclosure first on a busy machine."""

_PICKUP_RING = {
    Pickup.ANSWER: RingAction.ANSWER,
    Pickup.BUSY: RingAction.BUSY,
    Pickup.REJECT: RingAction.REJECT,
    Pickup.NEVER: RingAction.IGNORE,
}


class PersonaCallee(Callee):
    """A simulated callee following a :class:`Persona`.

    Args:
        name: the persona's name (for logs).
        persona: what it does.
        voice: the synthesizer it speaks with (Piper for English; cached on disk).
    """

    def __init__(self, name: str, persona: Persona, voice: Synthesizer) -> None:
        self.name = name
        self.persona = persona
        self.voice = voice
        self.heard_bot_pauses = 0
        self._ears: _BotListener | None = None

    @property
    def loud_frames(self) -> int:
        """How many 20 ms frames with speech-level energy it has heard so far (tests compare
        the count before and after a moment to tell that audio reached the callee)."""
        return self._ears.loud_frames if self._ears is not None else 0

    def ring(self, call: IncomingCall) -> Ring:
        return Ring(_PICKUP_RING[self.persona.pickup], after=self.persona.ring_seconds)

    async def talk(self, leg: Leg) -> None:
        ears = self._ears = _BotListener()
        listening = asyncio.create_task(ears.listen(leg))
        try:
            if self.persona.voicemail is not None:
                await self._answering_machine(leg)
                return
            for step in self.persona.script:
                if not await self._perform(step, leg, ears):
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leg.wait_ended(), MAX_TALK_S)
        finally:
            self.heard_bot_pauses = ears.pauses
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _perform(self, step: Step, leg: Leg, ears: _BotListener) -> bool:
        """Do one step; False when the persona hangs up."""
        if step.wait is not None:
            await asyncio.sleep(step.wait)
        elif step.wait_for_bot is not None:
            await ears.wait_for_pauses(step.wait_for_bot)
        elif step.say is not None:
            await leg.play(await self._speech(step.say), interruptible=False)
        elif step.play is not None:
            await leg.play(load_recording(Path(step.play)), interruptible=False)
        elif step.press is not None:
            await self._press(step.press, leg)
        elif step.hangup:
            return False
        return True

    async def _speech(self, text: str) -> Pcm:
        return telephone_band(await self.voice.render(text))

    async def _press(self, digits: str, leg: Leg) -> None:
        if self.persona.dtmf is DtmfMethod.RFC4733:
            try:
                await leg.send_dtmf(digits)
                return
            except LegStateError:
                log.info("persona %s: no RFC 4733 on this call, pressing in-band", self.name)
        await leg.play(dtmf_sequence(digits, tone_ms=100, pause_ms=100), interruptible=False)

    async def _answering_machine(self, leg: Leg) -> None:
        machine = self.persona.voicemail
        assert machine is not None
        greeting = await self._speech(machine.greeting)
        beep = _beep(machine.beep_hz, machine.beep_ms)
        await leg.play(
            np.concatenate([greeting, np.zeros(SAMPLE_RATE // 4, np.int16), beep]),
            interruptible=False,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.wait_ended(), VOICEMAIL_RECORD_S)


class _BotListener:
    """Counts how often the bot stopped talking (speech followed by a pause)."""

    def __init__(self) -> None:
        self.pauses = 0
        self.loud_frames = 0
        self._changed = asyncio.Event()

    async def listen(self, leg: Leg) -> None:
        pause_frames = round(BOT_PAUSE_S * 1000 / FRAME_MS)
        talking = False
        quiet = 0
        async for frame in leg.audio():
            if rms_dbfs(frame) > SPEECH_DBFS:
                self.loud_frames += 1
                talking, quiet = True, 0
                continue
            quiet += 1
            if talking and quiet >= pause_frames:
                talking = False
                self.pauses += 1
                self._changed.set()

    async def wait_for_pauses(self, count: int) -> None:
        while self.pauses < count:
            self._changed.clear()
            await self._changed.wait()


def _beep(hz: float, ms: int) -> Pcm:
    t = np.arange(SAMPLE_RATE * ms // 1000) / SAMPLE_RATE
    return np.round(8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def require_persona(personas: Mapping[str, Persona], name: str) -> None:
    """Raise ``KeyError`` naming the known personas when ``name`` is not one of them."""
    if name not in personas:
        raise KeyError(f"no persona {name!r}; known: {', '.join(sorted(personas))}")


class PersonaDirectory:
    """Who answers which number on the loopback transport: a persona per number.

    Callees are created per call, so one persona can stand behind many numbers at once.
    """

    def __init__(self, personas: dict[str, Persona], voice: Synthesizer) -> None:
        self.personas = personas
        self.voice = voice
        self.assignments: dict[str, str] = {}

    def assign(self, number: str, persona: str) -> None:
        """Let ``persona`` answer ``number``.

        Raises:
            KeyError: no persona of that name (the message lists the known ones).
        """
        require_persona(self.personas, persona)
        self.assignments[number] = persona

    def lookup(self, number: str) -> Callee | None:
        """A fresh callee for ``number``, or None for a number nobody has."""
        name = self.assignments.get(number)
        if name is None:
            return None
        return PersonaCallee(name, self.personas[name], self.voice)
