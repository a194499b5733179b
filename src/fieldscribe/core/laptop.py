"""The laptop's own state in the field: free disk space where the vault lives (as hours of
recording left) and, where the operating system reports it, the battery.

Readings are injectable (``free_space``, ``battery``) so the thresholds are tested without a
nearly full disk or a dying battery. The battery comes from psutil, which reads it on Linux
(/sys/class/power_supply), macOS and Windows; where nothing reports one (a desktop, a
virtual machine) it is "unknown", never an error.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Level = Literal["ok", "warning", "critical"]

# what the recorder writes by default (core.audio.recorder.RecorderConfig: 16 kHz, mono,
# 16-bit samples; a test keeps these in step). FLAC usually takes about half of this, so the
# hours left are a safe underestimate.
DEFAULT_RATE = 16000
DEFAULT_CHANNELS = 1
SAMPLE_BYTES = 2


@dataclass(frozen=True)
class Thresholds:
    disk_warning_hours: float = 2.0  # less than two interviews' worth left
    disk_critical_hours: float = 0.5
    battery_warning_percent: float = 20.0  # only when not on mains
    battery_critical_percent: float = 10.0


@dataclass(frozen=True)
class Battery:
    """None means the operating system does not say."""

    percent: float | None
    on_mains: bool | None

    @property
    def known(self) -> bool:
        return self.percent is not None


UNKNOWN_BATTERY = Battery(None, None)


@dataclass(frozen=True)
class LaptopState:
    disk_free_bytes: int
    recording_seconds_left: float  # at the recorder's rate
    battery: Battery
    disk_level: Level
    battery_level: Level
    disk_line: str  # always present: "Disk: 42.1 GB free — about 365 h of recording left"
    battery_line: str  # "Battery 80%, charging" / "Battery: not reported"
    warnings: tuple[str, ...]  # the lines to show prominently (warning or critical), worst first

    @property
    def level(self) -> Level:
        order: dict[Level, int] = {"ok": 0, "warning": 1, "critical": 2}
        return max(self.disk_level, self.battery_level, key=lambda lv: order[lv])


def recording_bytes_per_second(rate: int = DEFAULT_RATE, channels: int = DEFAULT_CHANNELS) -> int:
    """Bytes one second of recording may take (uncompressed 16-bit: an upper bound)."""
    return rate * channels * SAMPLE_BYTES


def free_disk_bytes(path: str | Path) -> int:
    """Free bytes on the drive holding PATH (or its nearest existing parent folder)."""
    p = Path(path).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def read_battery() -> Battery:
    """The battery as the operating system reports it, else unknown."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return UNKNOWN_BATTERY
    sensors = getattr(psutil, "sensors_battery", None)  # absent on some platforms
    if sensors is None:
        return UNKNOWN_BATTERY
    try:
        reading = sensors()
    except (OSError, RuntimeError, NotImplementedError):
        return UNKNOWN_BATTERY
    if reading is None:
        return UNKNOWN_BATTERY
    plugged = reading.power_plugged
    return Battery(float(reading.percent), None if plugged is None else bool(plugged))


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        hours = seconds / 3600
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"
    return f"{max(0, seconds) / 60:.0f} min"


def laptop_state(
    path: str | Path,
    *,
    rate: int = DEFAULT_RATE,
    channels: int = DEFAULT_CHANNELS,
    free_space: Callable[[Path], int] | None = None,
    battery: Callable[[], Battery] | None = None,
    thresholds: Thresholds = Thresholds(),
) -> LaptopState:
    """Disk and battery for the vault at PATH, with their warnings."""
    free = (free_space or free_disk_bytes)(Path(path))
    seconds = free / recording_bytes_per_second(rate, channels)
    hours = seconds / 3600
    disk_level: Level = (
        "critical"
        if hours < thresholds.disk_critical_hours
        else "warning"
        if hours < thresholds.disk_warning_hours
        else "ok"
    )
    disk_line = f"Disk: {format_bytes(free)} free — about {format_duration(seconds)} of recording left"
    if disk_level != "ok":
        disk_line += "; free some space before the next interview"

    b = (battery or read_battery)()
    battery_level: Level = "ok"
    if b.percent is None:
        battery_line = "Battery: not reported on this computer"
    else:
        pct = f"{b.percent:.0f}%"
        charging = b.on_mains is True
        state = "on mains" if charging else "not charging" if b.on_mains is False else "charging state unknown"
        battery_line = f"Battery {pct}, {state}"
        if not charging:
            if b.percent <= thresholds.battery_critical_percent:
                battery_level = "critical"
            elif b.percent <= thresholds.battery_warning_percent:
                battery_level = "warning"
        if battery_level != "ok":
            battery_line = f"Battery {pct} and not charging — plug in the charger" + (
                "; the laptop may shut down soon (the recording so far is safe)" if battery_level == "critical" else ""
            )
    ranked = sorted(
        [(disk_level, disk_line), (battery_level, battery_line)],
        key=lambda item: {"critical": 0, "warning": 1, "ok": 2}[item[0]],
    )
    warnings = tuple(line for lv, line in ranked if lv != "ok")
    return LaptopState(free, seconds, b, disk_level, battery_level, disk_line, battery_line, warnings)
