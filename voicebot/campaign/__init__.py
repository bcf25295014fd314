"""The dialer: campaigns, contact import, pacing, retries and callbacks, results."""
