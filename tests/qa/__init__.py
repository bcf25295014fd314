"""Tests of voicebot/qa/."""
