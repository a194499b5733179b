"""Exports built from de-identified, reviewed content only: REFI-QDA, DOCX, TXT, WebVTT/SRT,
CSV and JSON, packed into bundles encrypted to the analysis team."""
