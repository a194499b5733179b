"""What every group of services shares: the unlocked vault and the count of calls in flight.

The services are split by subject into mixins (``admin``: the study's settings, people and
trust; ``field``: planning, notes and the laptop's own state), each in its own module, all
combined in :class:`~.app_services.Services`. A method that may run in a worker thread is
wrapped in :func:`counted`, so ``Services.close()`` waits for it to leave the vault.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, TypeVar

from ..core.vault import Locked, Vault

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="ServiceBase")


class ServiceBase:
    """The vault slot and the in-flight counter the mixins rely on."""

    def __init__(self) -> None:
        self._vault: Vault | None = None
        # calls running in worker threads: close() waits for them, because closing SQLite (or
        # the name finders) beneath a running thread crashed the process at exit (status 139)
        self.inflight = 0
        self.idle = threading.Condition()

    @contextmanager
    def working(self) -> Iterator[None]:
        with self.idle:
            self.inflight += 1
        try:
            yield
        finally:
            with self.idle:
                self.inflight -= 1
                self.idle.notify_all()

    @property
    def vault(self) -> Vault:
        """The unlocked vault, for the services' own use (and tests that inspect it)."""
        if self._vault is None or not self._vault.unlocked:
            raise Locked()
        return self._vault


def counted(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A call that may run in a worker thread: close() waits for it to leave the vault."""

    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.working():
            return method(self, *args, **kwargs)

    functools.update_wrapper(wrapper, method)  # its name and docstring
    return wrapper
