"""Tests of voicebot/privacy/."""
