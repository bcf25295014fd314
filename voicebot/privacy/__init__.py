"""Privacy: masking, redaction, encryption at rest, retention and erasure."""
