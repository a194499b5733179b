"""The app's settings, each read from one environment variable so a study team can set them
once in a shell profile or launcher, plus an optional keymap file.

FIELDSCRIBE_IDLE_LOCK   seconds without a key press before the vault locks itself (default
                        300; 0 turns auto-lock off). A running recording is never interrupted:
                        the lock waits until it stops.
FIELDSCRIBE_LIVE        1 (default) transcribes while recording; 0 leaves it for later, which
                        spares the CPU on a slow laptop. Also yes/no, true/false, on/off.
FIELDSCRIBE_UI_LANGUAGE en or zh; by default the study's language once the vault is open.
FIELDSCRIBE_KEYMAP      the keymap file (default: keymap.toml in the user config folder, used
                        if it exists). It remaps keys by binding id, for example::

                            [keys]
                            "interview.record" = "f5"
                            "home.review" = "v,ctrl+r"

Empty variables count as unset. A bad value raises :class:`InvalidInput` with one sentence.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_path
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ..services import InvalidInput
from .keys import binding_ids

ENV_IDLE_LOCK = "FIELDSCRIBE_IDLE_LOCK"
ENV_LIVE = "FIELDSCRIBE_LIVE"
ENV_LANGUAGE = "FIELDSCRIBE_UI_LANGUAGE"
ENV_KEYMAP = "FIELDSCRIBE_KEYMAP"

# what to say when a variable's value cannot be used, by field
_FIX = {
    "idle_lock_s": "use a number of seconds, 0 or more (0 turns auto-lock off), such as 300",
    "live_transcription": "use 1 or 0 (or yes/no, true/false, on/off)",
    "language": "use en or zh, or unset it to follow the study's language",
}
_ENV_OF = {"idle_lock_s": ENV_IDLE_LOCK, "live_transcription": ENV_LIVE, "language": ENV_LANGUAGE}


def keymap_path() -> Path:
    """Where the keymap file is looked for: FIELDSCRIBE_KEYMAP, else the user config folder."""
    explicit = os.environ.get(ENV_KEYMAP, "").strip()
    return Path(explicit).expanduser() if explicit else user_config_path("fieldscribe") / "keymap.toml"


def load_keymap(path: Path, *, required: bool) -> dict[str, str]:
    """The ``[keys]`` table of a keymap file, checked against the app's binding ids."""
    if not path.exists():
        if required:
            raise InvalidInput(
                f"The keymap file {path} ({ENV_KEYMAP}) does not exist; create it or unset {ENV_KEYMAP}."
            )
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The keymap file {path} cannot be read ({exc}); fix its permissions or remove it."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"The keymap file {path} is not valid TOML ({exc}); fix it, e.g. [keys] then \"interview.record\" = \"f5\"."
        ) from None
    keys = data.get("keys", {})
    unexpected = sorted(set(data) - {"keys"})
    if unexpected or not isinstance(keys, dict):
        raise InvalidInput(
            f"The keymap file {path} should hold only a [keys] table of binding ids and keys; "
            f"move {', '.join(unexpected) or 'keys'} into it as e.g. \"interview.record\" = \"f5\"."
        )
    bad_values = sorted(k for k, v in keys.items() if not isinstance(v, str) or not v.strip())
    if bad_values:
        raise InvalidInput(
            f"The keymap file {path} gives no key string for {', '.join(bad_values)}; write e.g. \"f5\" or \"r,ctrl+r\"."
        )
    unknown = sorted(set(keys) - binding_ids())
    if unknown:
        raise InvalidInput(
            f"The keymap file {path} names unknown binding ids ({', '.join(unknown)}); use ids such as "
            "interview.record or home.review (README lists where to find them)."
        )
    return {k: v.strip() for k, v in keys.items()}


class _Environment(EnvSettingsSource):
    """The FIELDSCRIBE_* variables; the keymap comes from its file, never from a variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == "keymap":
            return None, field_name, False
        return super().get_field_value(field, field_name)


class _KeymapFile(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        explicit = bool(os.environ.get(ENV_KEYMAP, "").strip())
        keymap = load_keymap(keymap_path(), required=explicit)
        return {"keymap": keymap} if keymap else {}


class Settings(BaseSettings):
    """``Settings(...)`` takes values as given and the rest from the environment (and the
    keymap file); ``Settings.from_env()`` takes everything from there."""

    model_config = SettingsConfigDict(
        populate_by_name=True, env_ignore_empty=True, case_sensitive=False, extra="ignore", frozen=True
    )

    idle_lock_s: float = Field(300.0, ge=0, allow_inf_nan=False, validation_alias=ENV_IDLE_LOCK)
    live_transcription: bool = Field(True, validation_alias=ENV_LIVE)
    language: Literal["en", "zh"] | None = Field(None, validation_alias=ENV_LANGUAGE)
    keymap: dict[str, str] = Field(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInput(_one_sentence(exc)) from None

    @field_validator("idle_lock_s", "live_transcription", "language", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("keymap")
    @classmethod
    def _known_ids(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - binding_ids())
        if unknown:
            raise ValueError(f"unknown binding ids {', '.join(unknown)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls), _KeymapFile(settings_cls)

    @classmethod
    def from_env(cls) -> Settings:
        return cls()


def _one_sentence(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = next((f for f, env in _ENV_OF.items() if err["loc"] and err["loc"][0] in (f, env)), None)
    if field is None and err["loc"] and err["loc"][0] == "keymap":
        return f"The keymap is not usable ({err['msg']}); use binding ids such as interview.record or home.review."
    if field is None:
        return f"The settings are not usable ({err['msg']}); check the FIELDSCRIBE_* variables and the keymap file."
    value = err.get("input")
    return f"{_ENV_OF[field]}={value!r} is not usable; {_FIX[field]}."
