"""Numbers computed from smoothers and models."""
