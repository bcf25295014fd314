"""Speech recognition: vosk streaming with a configured model, pocketsphinx offline for English.

Callers get a :class:`Recognizer` from :func:`recognizer_for` (model loaded once per process),
open a cheap :meth:`Recognizer.session` per call and feed it 20 ms frames; final
:class:`Transcript` texts go to the intent recognizer.
"""

from voicebot.speech.asr.base import (
    AsrError,
    Recognizer,
    RecognizerSession,
    RecognizerUnavailable,
    Transcript,
)
from voicebot.speech.asr.select import recognizer_for

__all__ = [
    "AsrError",
    "Recognizer",
    "RecognizerSession",
    "RecognizerUnavailable",
    "Transcript",
    "recognizer_for",
]
