"""Errors a user can hit. Each carries one sentence saying what is wrong and what to do next,
so the CLI and the TUI can show it as-is instead of a traceback."""

from __future__ import annotations


class FieldscribeError(Exception):
    """Base for every expected failure; ``str(err)`` is the sentence shown to the user.

    ``params`` carries what the sentence is about (ids, counts) so a front end can word the
    error in its own language and point at its own way of fixing it (the app says "press G,
    then K" where the command line names a command); where it has no wording of its own, it
    shows the sentence."""

    exit_code = 1
    params: dict[str, object] = {}


class VaultNotFound(FieldscribeError):
    def __init__(self, path: object) -> None:
        super().__init__(
            f"No fieldscribe vault at {path}; create one with `fieldscribe init --vault {path}` "
            "or point --vault / FIELDSCRIBE_VAULT at an existing one."
        )


class VaultExists(FieldscribeError):
    def __init__(self, path: object) -> None:
        super().__init__(f"A vault already exists at {path}; choose another folder or open it instead.")


class WrongPassphrase(FieldscribeError):
    def __init__(self) -> None:
        super().__init__(
            "Wrong passphrase for this vault; try again, or reset it with "
            "`fieldscribe passphrase change --recovery-key`."
        )


class WrongRecoveryKey(FieldscribeError):
    def __init__(self) -> None:
        super().__init__(
            "That recovery key does not open this vault; check it against the key printed at "
            "`fieldscribe init` (groups of letters and digits, dashes optional)."
        )


class VaultLocked(FieldscribeError):
    def __init__(self, path: object, holder: str) -> None:
        super().__init__(
            f"The vault at {path} is already open in another fieldscribe process ({holder}); "
            "close that one first, then try again."
        )


class SchemaTooNew(FieldscribeError):
    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"This vault uses schema version {found} but this fieldscribe understands up to "
            f"{supported}; install a newer fieldscribe to open it (the vault was left untouched)."
        )


class NotAVault(FieldscribeError):
    def __init__(self, path: object, why: str) -> None:
        super().__init__(f"{path} is not a readable fieldscribe vault ({why}); check the path.")


class RecordTampered(FieldscribeError):
    def __init__(self, record: str) -> None:
        self.record = record
        super().__init__(
            f"The stored record {record} failed authentication: it was altered or corrupted "
            "on disk; restore the vault from a backup and report the incident."
        )


class HistoryTampered(RecordTampered):
    """Every value still authenticates, but the set of rows does not match the sealed history
    of its participant or session (rows deleted, rolled back to older ciphertexts, edited in
    the clear), or that history is not the one the audit log vouches for."""

    def __init__(self, record: str, what: str) -> None:
        self.record = record
        FieldscribeError.__init__(
            self,
            f"{what[:1].upper()}{what[1:]}; keep this vault as evidence, restore it from a backup and report "
            "the incident.",
        )


class AudioTruncated(HistoryTampered):
    """A finished recording's file holds fewer (or more) chunks than were recorded."""

    def __init__(self, session_id: str, found: int, recorded: int) -> None:
        super().__init__(
            f"audio of {session_id}",
            f"the audio of {session_id} has {found} chunks where {recorded} were recorded (the file was cut "
            "or extended on disk)",
        )


class KeySettingsTampered(FieldscribeError):
    """The stored Argon2id parameters are out of range or malformed.

    They are read before the passphrase can be checked, so an edited value could otherwise
    make unlock exhaust memory or run for hours; nothing is derived from them."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"The vault's key settings were edited and look tampered with ({detail}); nothing was "
            "unlocked — restore the vault from a backup and report the incident."
        )


class GuideInvalid(FieldscribeError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"{source} has {len(problems)} {noun}; fix them and check again:\n" + "\n".join(f"  {p}" for p in problems)
        )


class GuideNotImported(FieldscribeError):
    def __init__(self, what: str = "") -> None:
        detail = f" matching {what!r}" if what else ""
        super().__init__(
            f"No interview guide{detail} is imported in this vault; import one with `fieldscribe guide import FILE`."
        )


class UnknownParticipant(FieldscribeError):
    def __init__(self, pseudonym: str) -> None:
        super().__init__(
            f"There is no participant {pseudonym} in this study; `fieldscribe participant list` "
            "shows the pseudonyms in use."
        )


class ParticipantWithdrawn(FieldscribeError):
    def __init__(self, pseudonym: str) -> None:
        super().__init__(
            f"{pseudonym} has withdrawn from the study and their data was destroyed; the "
            "pseudonym cannot be used again — enrol the person as a new participant if they rejoin."
        )


class UnknownSession(FieldscribeError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"There is no session {session_id} in this vault; `fieldscribe session list` shows them.")


class NotEligible(FieldscribeError):
    def __init__(self, unmet: list[str], excluded: list[str]) -> None:
        self.unmet = unmet  # the text of each inclusion criterion not met
        self.excluded = excluded  # the text of each exclusion criterion that applies
        self.reasons = [f"inclusion criterion not met: {t}" for t in unmet] + [
            f"exclusion criterion applies: {t}" for t in excluded
        ]
        super().__init__("Not enrolled: " + "; ".join(self.reasons) + ". Nothing was stored.")


class InvalidAnswer(FieldscribeError):
    pass


class ConsentMissing(FieldscribeError):
    def __init__(self, participants: list[str]) -> None:
        self.params = {"pids": ", ".join(participants)}
        super().__init__(
            f"Audio-recording consent is missing for {', '.join(participants)}; record it with "
            f"`fieldscribe consent {participants[0]}` before recording (nothing was recorded)."
        )


class InvalidTransition(FieldscribeError):
    pass


class ConfirmationMismatch(FieldscribeError):
    def __init__(self, expected: str) -> None:
        super().__init__(f"Confirmation did not match {expected!r}; nothing was changed.")


class InvalidInput(FieldscribeError):
    """A value given on the command line or in a form that cannot be used as it is."""


class TooLittleSpeech(InvalidInput):
    """A voice-profile recording held too little speech to know the voice by."""

    def __init__(self, speech_s: float, needed_s: float) -> None:
        self.params = {"seconds": f"{speech_s:.0f}", "needed": f"{needed_s:.0f}"}
        super().__init__(
            f"The recording holds {speech_s:.0f} s of speech; a voice profile needs at least {needed_s:.0f} s — "
            "read the prompt aloud again, a little longer."
        )


class DiskFull(FieldscribeError):
    """Too little space to record safely; what is already saved stays intact."""


class RecordingFailed(FieldscribeError):
    """The recorder stopped on an error; everything written before it is kept."""


class StoreUnreachable(FieldscribeError):
    """The study store cannot be reached (offline, wrong address, link dropped)."""

    exit_code = 3


class HostKeyRejected(FieldscribeError):
    """The SFTP server's host key is unknown or has changed: never accepted silently."""

    exit_code = 4


class StoreRefused(FieldscribeError):
    """The store answered but refused (authentication, permissions, a damaged upload)."""


class NoRecipient(InvalidInput):
    """Export has no analysis-team key to encrypt to."""

    def __init__(self) -> None:
        super().__init__(
            "No recipient to encrypt to: set the analysis team's age1… key for the study "
            "(`fieldscribe study recipient set`, or in the app), add it to the study file "
            "(export: recipients:) or pass --recipient FILE."
        )


class StoreNotSet(InvalidInput):
    """Sync has no study store address."""

    def __init__(self) -> None:
        super().__init__(
            "No study store is set; give one with `fieldscribe remote set sftp://user@host/path` (or --to URL)."
        )
