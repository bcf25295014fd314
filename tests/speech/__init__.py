"""Tests of voicebot/speech/."""
