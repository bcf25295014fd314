"""Privacy: masking, redaction, encryption at rest (the vault), retention and erasure."""

from voicebot.privacy.masking import mask_digits, mask_number

__all__ = ["mask_digits", "mask_number"]
