"""Per-call QA: the checklist every call is held to (disclosure in time, "9" honoured, inside
the window, ...), computed from the call's event log alone and stored per attempt.

It sits above ``flow``, ``speech`` and ``compliance`` (it reads the flow, renders the disclosure
to time it, and checks the policy's windows) and below ``call``, which runs the checks when a
call ends. The event log it reads is a leaf (:mod:`voicebot.eventlog`), written by ``call``.
"""
