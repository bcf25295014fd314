"""Tests of voicebot/sim/."""
