"""Tests of voicebot/web/."""
