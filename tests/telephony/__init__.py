"""Tests of voicebot/telephony/."""
