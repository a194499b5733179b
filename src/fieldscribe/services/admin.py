"""Services for the study's administration from inside the app: consent taken again, the
identifiers to look for, the analysis team's key, the study store, purge and withdrawal."""

from __future__ import annotations

from .calls import ServiceBase


class StudyAdmin(ServiceBase):
    """Study settings, people and trust (mixed into :class:`~.app_services.Services`)."""
