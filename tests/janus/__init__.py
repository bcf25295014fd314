"""Real Janus and SIPp for the Janus transport's integration tests (see :mod:`.harness`)."""
