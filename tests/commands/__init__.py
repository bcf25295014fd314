"""Tests of voicebot/cli.py and voicebot/commands/."""
