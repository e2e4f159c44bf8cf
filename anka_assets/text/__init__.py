"""Turkish text handling: normalisation, mojibake repair, PII detection, quality signals."""
