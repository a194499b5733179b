"""The interviewer's Textual app. Thin: screens show core state and send intents; the core
(through :class:`fieldscribe.services.Services`) does the work."""

from __future__ import annotations

from pathlib import Path


def run_app(vault_path: Path) -> None:
    from ..services import Services
    from .app import FieldscribeApp
    from .settings import Settings

    services = Services(vault_path)
    try:
        FieldscribeApp(services, Settings.from_env()).run()
    finally:
        services.close()
