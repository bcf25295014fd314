"""Risk control around every call: may this number be dialled now, and what do we learn after.

The dialer's API, all taking an explicit aware ``now`` (so a campaign can run on a test clock):

- :meth:`Gate.check_and_reserve` before each dial -> :class:`Decision` (``allowed``, ``reasons``,
  ``not_before``, ``attempt_id``); atomic across tasks and processes;
- :meth:`Gate.release` when the dial never reached the network;
- :meth:`Gate.record_outcome` when the call ended (do-not-call, freeze rule, review queue);
- :meth:`Gate.check` for what-if questions (audited, consumes nothing).

The policy (:func:`load_policy`) says when and how often; :mod:`.explain` says why.
"""

from voicebot.compliance.decision import Decision, Reason
from voicebot.compliance.gate import Gate
from voicebot.compliance.policy import Policy, load_policy, user_policy_path
from voicebot.compliance.rules import AttemptStateError, OutcomeEffects
from voicebot.compliance.zones import Callee, parse_callee
from voicebot.privacy.numbers import InvalidNumber

__all__ = [
    "AttemptStateError",
    "Callee",
    "Decision",
    "Gate",
    "InvalidNumber",
    "OutcomeEffects",
    "Policy",
    "Reason",
    "load_policy",
    "parse_callee",
    "user_policy_path",
]
