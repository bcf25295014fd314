"""Tests of voicebot/compliance/."""
