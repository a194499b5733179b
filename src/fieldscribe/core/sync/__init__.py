"""Sync after fieldwork: exported bundles (ciphertext only) to the study's store, receipts
back from the analysis team, and purging what the team has confirmed it holds."""
