"""Finding microphones through PortAudio, with a clear sentence when there are none."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..errors import FieldscribeError


class AudioUnavailable(FieldscribeError):
    pass


def sounddevice() -> ModuleType:
    """Import sounddevice lazily; PortAudio missing becomes one actionable sentence."""
    try:
        import sounddevice as sd
    except (OSError, ImportError) as exc:
        raise AudioUnavailable(
            "The PortAudio sound library is not installed, so no microphone can be used; "
            "install it with `sudo apt-get install libportaudio2` and try again."
        ) from exc
    return sd  # type: ignore[no-any-return]  # sounddevice is untyped


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float
    is_default: bool


def list_inputs(refresh: bool = False) -> list[InputDevice]:
    sd = sounddevice()
    if refresh:
        # PortAudio enumerates at initialisation; a sound server started later needs a re-scan
        sd._terminate()
        sd._initialize()
    try:
        default_in = sd.default.device[0]
    except (TypeError, IndexError):
        default_in = -1
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append(
                InputDevice(i, d["name"], int(d["max_input_channels"]), float(d["default_samplerate"]), i == default_in)
            )
    return out


def resolve_input(device: str | int | None) -> int | str | None:
    """Accept an index, an exact name or a unique part of a name; None is the system default."""
    if device is None or device == "":
        inputs = list_inputs()
        if not inputs:
            raise AudioUnavailable(
                "No microphone was found: plug one in (or start the sound server) and run "
                "`fieldscribe devices` to check."
            )
        return None
    inputs = list_inputs()
    if isinstance(device, int) or str(device).isdecimal():  # not isdigit: int("²") fails
        idx = int(device)
        if any(d.index == idx for d in inputs):
            return idx
        raise AudioUnavailable(f"There is no input device {idx}; `fieldscribe devices` lists them.")
    matches = [d for d in inputs if d.name == device] or [d for d in inputs if str(device).lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0].index
    if not matches:
        raise AudioUnavailable(f"No input device matches {device!r}; `fieldscribe devices` lists them.")
    names = ", ".join(repr(d.name) for d in matches)
    raise AudioUnavailable(f"{device!r} matches several input devices ({names}); give its number instead.")
