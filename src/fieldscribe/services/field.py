"""Services for the rest of the field day: planning with date, site and wave, notes on a
participant, the consent summary to print, and the laptop's battery and disk."""

from __future__ import annotations

from .calls import ServiceBase


class FieldDay(ServiceBase):
    """Planning, notes and the laptop's own state (mixed into :class:`~.app_services.Services`)."""
