"""Tests of voicebot/call/."""
