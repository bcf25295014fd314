"""One live call: the session that drives a telephony leg, the flow, speech in and out, and
answering-machine detection (:mod:`voicebot.call.amd`)."""
