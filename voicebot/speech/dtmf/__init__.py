"""DTMF in the audio itself: a Q.24 Goertzel detector and a key-press generator.

``DtmfDetector().feed(frame)`` returns the :class:`DigitEvent` of every key press that ended in
the frame; :func:`dtmf_tone` renders a press for simulated callees and tests.
"""

from voicebot.speech.dtmf.detector import DigitEvent, DtmfDetector, DtmfParams
from voicebot.speech.dtmf.tones import DIGITS, dtmf_sequence, dtmf_tone, key_frequencies

__all__ = [
    "DIGITS",
    "DigitEvent",
    "DtmfDetector",
    "DtmfParams",
    "dtmf_sequence",
    "dtmf_tone",
    "key_frequencies",
]
