"""Human or answering machine, from the first seconds after the callee answers.

Why: a bot that starts its disclosure while a voicemail greeting is still playing leaves a
message cut in half; one that waits for a beep from a human makes them hang up. So the call
listens first, then speaks to a human at once, or to a machine after its beep.

Rules, checked on every 20 ms frame, in this order (all times from the answer, defaults in
brackets, every one a field of :class:`AmdParams`):

1. **Beep**: a sustained pure tone (:mod:`.beep`: 400-2000 Hz, >= 150 ms) -> ``machine``, with
   the beep's start and end; the message can start after ``beep.end_ms``.
2. **Many words**: more than ``max_words`` [3] words in the greeting -> ``machine``. A word is a
   stretch of speech frames of at least ``min_word_ms`` [100] ending in ``word_gap_ms`` [60] of
   silence. A person answers with one or two ("Hello?", "Yes, hello"); greetings run on.
3. **Long greeting**: the greeting (from the first speech to the latest speech frame, pauses
   shorter than ``human_silence_ms`` included) longer than ``max_greeting_ms`` [1500] ->
   ``machine``.
4. **Short greeting, then silence**: speech, then ``human_silence_ms`` [800] of silence ->
   ``human``: a person says "Hello?" and waits for an answer; a machine keeps talking.
5. **Initial silence**: no speech within ``initial_silence_ms`` [2500] -> ``unknown``. Both a
   silent person and a machine with a slow start do this; the flow decides (usually: speak, as
   to a human, so the disclosure is never skipped).
6. **Time limit**: no decision by ``max_decision_ms`` [3500] -> ``unknown``.

Speech is judged by :class:`voicebot.speech.vad.Vad` (adaptive noise floor), so line level and
noise do not move the thresholds. While a pure tone sounds, it is counted neither as speech nor
as silence and rules 2-4 wait: it may be the beep.

A ``machine`` verdict reached by rules 2-3 comes out at once with ``final=False``; with
``wait_for_beep`` the detector keeps listening and returns a second, final result when the beep
has ended, when the greeting has been followed by ``no_beep_silence_ms`` [3000] of silence (no
beep coming: speak now), or after ``max_beep_wait_ms`` [30000] in all. Human and unknown
verdicts are final at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from voicebot.audio import FRAME_MS, FRAME_SAMPLES, Pcm
from voicebot.call.amd.beep import Beep, BeepDetector, BeepParams
from voicebot.speech.vad import Vad, VadEventKind, VadParams


class AmdVerdict(Enum):
    """Who answered."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AmdResult:
    """A decision and why it was made.

    Attributes:
        verdict: human, machine or unknown.
        reason: the rule that decided, with the measured figures, for the call log.
        decided_ms: audio time since the answer when it was decided.
        final: False only for a machine still being listened to for its beep.
        beep: the beep, if one was heard; a message can start after ``beep.end_ms``.
        greeting_ms: how long the callee spoke before the decision (0 if silent).
        words: words counted in that greeting.
    """

    verdict: AmdVerdict
    reason: str
    decided_ms: float
    final: bool = True
    beep: Beep | None = None
    greeting_ms: float = 0.0
    words: int = 0


@dataclass(frozen=True)
class AmdParams:
    """Decision thresholds (module docstring: the rules they drive)."""

    initial_silence_ms: float = 2500.0
    max_greeting_ms: float = 1500.0
    human_silence_ms: float = 800.0
    max_words: int = 3
    min_word_ms: float = 100.0
    word_gap_ms: float = 60.0
    max_decision_ms: float = 3500.0
    wait_for_beep: bool = True
    no_beep_silence_ms: float = 3000.0
    max_beep_wait_ms: float = 30000.0
    vad: VadParams = field(default_factory=VadParams)
    beep: BeepParams = field(default_factory=BeepParams)

    def __post_init__(self) -> None:
        for name in ("initial_silence_ms", "max_greeting_ms", "human_silence_ms", "min_word_ms"):
            if getattr(self, name) < FRAME_MS:
                raise ValueError(f"{name}: expected >= {FRAME_MS} ms, got {getattr(self, name)}")
        if self.max_words < 1:
            raise ValueError(f"max_words: expected >= 1, got {self.max_words}")
        if self.max_decision_ms < self.initial_silence_ms:
            raise ValueError("max_decision_ms: expected >= initial_silence_ms")
        if self.max_beep_wait_ms < self.max_decision_ms:
            raise ValueError("max_beep_wait_ms: expected >= max_decision_ms")


class AnsweringMachineDetector:
    """Streaming AMD for one call: feed the callee's audio from the moment of answer.

    ``feed`` returns an :class:`AmdResult` when one is decided, else None; after the final
    result it returns None. :attr:`result` holds the latest result.
    """

    def __init__(self, params: AmdParams | None = None) -> None:
        self.params = params or AmdParams()
        self._vad = Vad(self.params.vad)
        self._beeps = BeepDetector(self.params.beep)
        self._pending = np.zeros(0, dtype=np.int16)
        self._now = 0.0
        self._speech_start: float | None = None
        self._last_speech_end = 0.0
        self._words = 0
        self._word_ms = 0.0
        self._gap_ms = 0.0
        self.result: AmdResult | None = None

    def feed(self, samples: Pcm) -> AmdResult | None:
        """Analyse the next samples of the callee's audio (8 kHz int16, any length)."""
        if samples.ndim != 1:
            raise ValueError(f"AMD samples: expected mono (1-D), got shape {samples.shape}")
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        whole = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
        self._pending = samples[whole:].copy()
        decided: AmdResult | None = None
        for i in range(0, whole, FRAME_SAMPLES):
            if self.result is not None and self.result.final:
                break
            new = self._frame(samples[i : i + FRAME_SAMPLES])
            if new is not None:
                self.result = decided = new
        return decided

    def _frame(self, frame: Pcm) -> AmdResult | None:
        p = self.params
        events = self._vad.feed(frame)
        beeps = self._beeps.feed(frame)
        self._now += FRAME_MS
        for event in events:
            if event.kind is VadEventKind.START and self._speech_start is None:
                self._speech_start = event.at_ms
                self._word_ms = self._now - event.at_ms
                self._last_speech_end = self._now
        tone = self._beeps.in_tone
        if self._speech_start is not None and not tone:
            self._count_words()
        if self.result is not None:  # a machine, waiting for its beep
            return self._after_verdict(beeps)
        if beeps:
            return self._decide(AmdVerdict.MACHINE, f"beep at {beeps[0].freq_hz:.0f} Hz", beeps[0])
        if tone:
            return None  # a tone is not speech, nor silence: wait for it to end (or be a beep)
        if self._speech_start is None:
            if self._now >= p.initial_silence_ms:
                return self._decide(AmdVerdict.UNKNOWN, f"no speech in {self._now:.0f} ms")
            return None
        greeting = self._greeting_ms()
        silence = self._now - self._last_speech_end
        if self._words > p.max_words:
            return self._machine(f"{self._words} words in {greeting:.0f} ms of greeting")
        if greeting > p.max_greeting_ms:
            return self._machine(f"greeting longer than {p.max_greeting_ms:.0f} ms")
        if silence >= p.human_silence_ms:
            return self._decide(
                AmdVerdict.HUMAN, f"greeting of {greeting:.0f} ms, then {silence:.0f} ms silence"
            )
        if self._now >= p.max_decision_ms:
            return self._decide(AmdVerdict.UNKNOWN, f"undecided after {self._now:.0f} ms")
        return None

    def _count_words(self) -> None:
        p = self.params
        if self._vad.frame_active:
            if self._gap_ms >= p.word_gap_ms:
                self._word_ms = 0.0
            self._gap_ms = 0.0
            before = self._word_ms
            self._word_ms += FRAME_MS
            if before < p.min_word_ms <= self._word_ms:
                self._words += 1
            self._last_speech_end = self._now
        else:
            self._gap_ms += FRAME_MS

    def _greeting_ms(self) -> float:
        assert self._speech_start is not None
        return self._last_speech_end - self._speech_start

    def _decide(self, verdict: AmdVerdict, reason: str, beep: Beep | None = None) -> AmdResult:
        greeting = self._greeting_ms() if self._speech_start is not None else 0.0
        return AmdResult(verdict, reason, self._now, True, beep, greeting, self._words)

    def _machine(self, reason: str) -> AmdResult:
        result = self._decide(AmdVerdict.MACHINE, reason)
        return replace(result, final=not self.params.wait_for_beep)

    def _after_verdict(self, beeps: list[Beep]) -> AmdResult | None:
        p = self.params
        verdict = self.result
        assert verdict is not None
        if beeps:
            return replace(
                verdict,
                reason=f"{verdict.reason}; beep at {beeps[0].freq_hz:.0f} Hz",
                decided_ms=self._now,
                final=True,
                beep=beeps[0],
            )
        silence = self._now - self._last_speech_end
        if not self._vad.in_speech and silence >= p.no_beep_silence_ms:
            reason = f"{verdict.reason}; no beep after {silence:.0f} ms of silence"
        elif self._now >= p.max_beep_wait_ms:
            reason = f"{verdict.reason}; no beep within {p.max_beep_wait_ms:.0f} ms"
        else:
            return None
        return replace(verdict, reason=reason, decided_ms=self._now, final=True)
