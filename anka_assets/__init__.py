"""ANKA Refinery: distil a teacher LLM's Turkish chain of thought into a student model."""

__version__ = "0.1.0"
