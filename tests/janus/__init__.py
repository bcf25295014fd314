"""pytest fixtures around :mod:`voicebot.sim.janus_lab` (real Janus and SIPp)."""
