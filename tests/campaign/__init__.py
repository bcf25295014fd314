"""Tests of voicebot/campaign/."""
