"""Tests of voicebot/store/."""
