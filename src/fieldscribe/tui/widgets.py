"""Small widgets the screens share: the input level meter and the recording-state badge."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual.widgets import Checkbox, Footer, Static


class LevelMeter(Static):
    """Input level in dBFS as a bar, so a dead microphone is noticed within seconds."""

    HELP_KEY = "help.level"  # F1: the microphone's loudness; a flat bar while someone speaks means trouble
    db: reactive[float] = reactive(-math.inf)

    def render(self) -> str:
        from rich.cells import cell_len

        from .strings import tr

        mic = tr("meter.mic")
        width = max(10, self.size.width - 14 - cell_len(mic))
        if self.db == -math.inf:
            return f"{mic}  " + "·" * width + f"  {tr('meter.silent')}"
        filled = max(0, min(width, int((self.db + 60) / 60 * width)))
        return f"{mic}  {'█' * filled}{'·' * (width - filled)}  {self.db:5.0f} dB"

    def watch_db(self, db: float) -> None:
        self.set_class(db > -3, "-clipping")
        self.set_class(db == -math.inf or db < -55, "-silent")


class StateBadge(Static):
    """Big, coloured recording state: ready, recording, paused, stopped."""

    state: reactive[str] = reactive("ready")

    def watch_state(self, old: str, new: str) -> None:
        from .strings import tr

        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self.update(tr(f"state.{new}"))


def laptop_warnings(status) -> list[tuple[str, str]]:
    """(severity, sentence) for the disk and battery when they need attention, worst first."""
    from .strings import tr

    out = []
    if status.disk_level != "ok":
        hours = status.recording_seconds_left / 3600
        out.append((status.disk_level, tr(f"laptop.disk_{status.disk_level}", hours=f"{hours:.1f}")))
    if status.battery_level != "ok" and status.battery_percent is not None:
        out.append(
            (
                status.battery_level,
                tr(f"laptop.battery_{status.battery_level}", percent=f"{status.battery_percent:.0f}"),
            )
        )
    out.sort(key=lambda item: item[0] != "critical")
    return out


class FieldFooter(Footer):
    """The footer keys on as many rows (up to four) as it takes to show them all at this width
    (two at 80 columns), so every key — F1 help, Ctrl+L lock, Ctrl+Q quit included — stays on
    screen; Textual's own footer cuts off whatever does not fit on one row."""

    def compose(self):
        from rich.cells import cell_len
        from textual.widgets._footer import FooterKey

        from .strings import key_label

        items = list(super().compose())
        keys = [k for k in items if isinstance(k, FooterKey) and not k.has_class("-command-palette")]
        for k in items:
            if isinstance(k, FooterKey):  # a focused widget's own keys (Textual's: "Dismiss menu")
                k.description = key_label(None, k.description)
        yield from items
        # each key as wide as "x Export" plus the spaces around it; CJK labels count double
        sizes = [cell_len(k.key_display) + cell_len(k.description) + 3 for k in keys]
        room = self.app.size.width - 14  # the palette key docked on the right
        for rows in range(1, 5):
            columns = -(-len(keys) // rows)
            widths = [max(sizes[c::columns], default=0) for c in range(columns)]
            if sum(widths) <= room:
                break
        self.set_class(rows > 1, "-rows")
        self.styles.height = rows
        if rows > 1:
            self.styles.grid_size_columns = columns
            self.styles.grid_columns = " ".join(str(w) for w in widths)

    def on_resize(self) -> None:
        self.refresh(recompose=True)


class TickBox(Checkbox):
    """A checkbox whose mark shows its state by shape — ✔ ticked, blank not — not only by
    colour, which a 16-colour terminal (or a colour-blind interviewer) may not tell apart."""

    def on_mount(self) -> None:
        self.BUTTON_INNER = "✔" if self.value else " "  # from the start, not after the first toggle
        self.refresh()

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✔" if self.value else " "
        super().watch_value()  # the -on class and the Changed message
        self.refresh()
