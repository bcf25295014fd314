"""Tests of voicebot/flow/."""
