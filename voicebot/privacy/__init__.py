"""Privacy: what a person or a log may see of a callee.

Only masking lives here for now; transcript redaction, recording encryption and erasure join later.
"""

from voicebot.privacy.masking import mask_number

__all__ = ["mask_number"]
