"""pytest fixtures around :mod:`voicebot.telephony.janus.lab` (real Janus and SIPp)."""
