"""fieldscribe: offline-first qualitative field interviews, encrypted at rest."""

__version__ = "0.1.0"
