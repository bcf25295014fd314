"""Answering-machine detection: human, machine or unknown from the first seconds after answer,
and when a voicemail beep ended so a message can start (rules: :mod:`.detector`)."""

from voicebot.call.amd.beep import Beep, BeepDetector, BeepParams
from voicebot.call.amd.detector import AmdParams, AmdResult, AmdVerdict, AnsweringMachineDetector

__all__ = [
    "AmdParams",
    "AmdResult",
    "AmdVerdict",
    "AnsweringMachineDetector",
    "Beep",
    "BeepDetector",
    "BeepParams",
]
