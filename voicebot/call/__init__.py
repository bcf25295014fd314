"""One live call: the session that drives a telephony leg, the flow, speech and AMD."""
