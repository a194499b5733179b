"""De-identification: find identifiers in transcripts, suggest bracketed descriptors, and
keep the replacement table (original → descriptor) sealed in the vault."""
