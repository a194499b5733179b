"""The headless core. Nothing here may import Textual or Rich: the CLI, the TUI and tests
all drive the same code, and a test enforces the boundary."""
