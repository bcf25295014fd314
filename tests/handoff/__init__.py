"""Tests of voicebot/handoff/."""
