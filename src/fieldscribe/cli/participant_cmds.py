"""participant add/list/show/set/note/hand-over/receive, consent (take, summary), withdraw."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..core import consent as consent_core
from ..core import handover as handover_core
from ..core import participants as pcore
from ..core import withdrawal
from ..core.errors import InvalidInput
from ..core.export.keys import open_regular
from ..core.guides import current_guide
from ..core.study import ChoiceField, NumberField, Study
from .common import open_vault, parse_bool, parse_pairs, terminal_safe, vault_option


@click.group()
def participant() -> None:
    """Enrol participants and look after their records."""


def _eligibility(study: Study, eligible: bool, criteria: tuple[str, ...]) -> dict[str, bool] | None:
    if eligible and criteria:
        raise click.UsageError("Use either --eligible or --criterion, not both.")
    if eligible:
        return pcore.all_eligible(study)
    if criteria:
        return {k: parse_bool(v, f"criterion {k}") for k, v in parse_pairs(criteria, "--criterion").items()}
    if sys.stdin.isatty():
        click.echo("Eligibility screening — answer for each criterion:", err=True)
        answers = {}
        for c in study.eligibility.inclusion:
            answers[c.id] = click.confirm(f"  [inclusion] {c.text}?", err=True)
        for c in study.eligibility.exclusion:
            answers[c.id] = click.confirm(f"  [exclusion] {c.text}?", err=True)
        return answers
    return None


@participant.command("add")
@vault_option
@click.option("--group", required=True, help="Participant group id from the study file, e.g. service_user.")
@click.option("--name", help="Real name (sealed; never leaves this laptop).")
@click.option("--site", help="Site where they were recruited (sealed).")
@click.option("--contact", help="Phone or e-mail for follow-up waves (sealed).")
@click.option("--notes", help="Private enrolment notes (sealed).")
@click.option("--eligible", is_flag=True, help="Confirm every inclusion criterion is met and no exclusion applies.")
@click.option("--criterion", "criteria", multiple=True, metavar="ID=yes|no", help="Answer one eligibility criterion.")
@click.option("--answer", "answers", multiple=True, metavar="FIELD=VALUE", help="Baseline questionnaire answer.")
@click.option("--compensation", help="Compensation given, e.g. 'HK$100 supermarket voucher'.")
@click.option("--guide", "guide_ref", help="Guide version or language to enrol under (default: current).")
@click.pass_context
def participant_add(
    ctx: click.Context,
    group: str,
    name: str | None,
    site: str | None,
    contact: str | None,
    notes: str | None,
    eligible: bool,
    criteria: tuple[str, ...],
    answers: tuple[str, ...],
    compensation: str | None,
    guide_ref: str | None,
) -> None:
    """Enrol a participant and print their new pseudonym (P1, P2 …)."""
    with open_vault(ctx) as vault:
        study = current_guide(vault, guide_ref).study
        screening = _eligibility(study, eligible, criteria)
        pid = pcore.enrol(
            vault,
            study,
            group=group,
            name=name,
            site=site,
            contact=contact,
            notes=notes,
            eligibility=screening,
            baseline=parse_pairs(answers, "--answer"),
            compensation=compensation,
        )
    click.echo(pid)
    if screening is None:
        click.echo(
            f"Note: eligibility was not screened for {pid}; record it with "
            f"`fieldscribe participant set {pid} --eligible` or --criterion ID=yes|no.",
            err=True,
        )


@participant.command("set")
@vault_option
@click.argument("pseudonym")
@click.option("--eligible", is_flag=True, help="Confirm every inclusion criterion is met and no exclusion applies.")
@click.option("--criterion", "criteria", multiple=True, metavar="ID=yes|no")
@click.option("--answer", "answers", multiple=True, metavar="FIELD=VALUE", help="Baseline questionnaire answer.")
@click.option("--compensation")
@click.option("--name")
@click.option("--contact")
@click.pass_context
def participant_set(
    ctx: click.Context,
    pseudonym: str,
    eligible: bool,
    criteria: tuple[str, ...],
    answers: tuple[str, ...],
    compensation: str | None,
    name: str | None,
    contact: str | None,
) -> None:
    """Record eligibility, baseline answers, compensation or contact details later."""
    with open_vault(ctx) as vault:
        study = current_guide(vault).study
        screening = _eligibility(study, eligible, criteria) if (eligible or criteria) else None
        pcore.update(
            vault,
            study,
            pseudonym,
            baseline=parse_pairs(answers, "--answer"),
            compensation=compensation,
            eligibility=screening,
            identity={"name": name or "", "contact": contact or ""},
        )
    click.echo(f"Updated {pcore.normalise_pseudonym(pseudonym)}.")


@participant.command("list")
@vault_option
@click.pass_context
def participant_list(ctx: click.Context) -> None:
    """Pseudonyms with group, site, status and consent state."""
    from ..core.overview import TAMPERED, WITHDRAWN, overview

    with open_vault(ctx) as vault:
        has_people = bool(pcore.list_participants(vault))
        view = overview(vault, current_guide(vault).study) if has_people else None
    rows = []
    for p in view.people if view else []:
        state = {WITHDRAWN: "—", TAMPERED: "TAMPERED", "complete": "complete"}.get(p.consent, "incomplete")
        rows.append((p.id, p.group, p.site or "", p.status, state))
    for a in view.attention if view else []:
        if a.kind == TAMPERED and a.subject in {r[0] for r in rows}:  # one edited record hides no other
            click.echo(f"Warning: {terminal_safe(a.detail)}", err=True)
    if not rows:
        click.echo("No participants yet; enrol one with `fieldscribe participant add --group …`.")
        return
    click.echo(f"{'ID':<6}{'GROUP':<16}{'SITE':<28}{'STATUS':<11}CONSENT")
    for pid, group, site, status, state in rows:
        click.echo(f"{pid:<6}{group:<16}{site:<28}{status:<11}{state}")


@participant.command("show")
@vault_option
@click.argument("pseudonym")
@click.pass_context
def participant_show(ctx: click.Context, pseudonym: str) -> None:
    """Everything recorded about one participant (decrypted on screen only)."""
    with open_vault(ctx) as vault:
        study = current_guide(vault).study
        p = pcore.get_participant(vault, pseudonym)
        consent = {} if p.withdrawn else consent_core.current_consent(vault, p.id)
        notes = pcore.participant_notes(vault, p.id)
        moves = handover_core.history(vault, p.id)
    click.echo(f"{p.id}  group {p.group}  {p.status}  enrolled {p.enrolled_at}")
    for move in moves:
        if move["direction"] == "sent":
            what = "record shredded here" if move.get("mode") == "shredded" else "record kept here"
            click.echo(f"Handed over to {move['device'][:8]} {str(move['at'])[:16].replace('T', ' ')} ({what}).")
        else:
            click.echo(f"Received from {move['device'][:8]} {str(move['at'])[:16].replace('T', ' ')}.")
    if p.withdrawn:
        click.echo(f"Withdrawn {p.withdrawn_at}; their data was destroyed.")
        return
    if p.site:
        click.echo(f"Site: {p.site}")
    for key, value in p.identity.items():
        click.echo(f"{key.capitalize()}: {value}")
    elig = p.eligibility or {}
    click.echo("Eligibility: " + ("screened, eligible" if elig.get("screened") else "not screened"))
    click.echo("Baseline:")
    for f in study.questionnaire:
        value = p.baseline.get(f.id)
        if isinstance(f, ChoiceField) and value is not None:
            value = f.choices.get(value, value)
        unit = f" {f.unit}" if isinstance(f, NumberField) and f.unit and value is not None else ""
        click.echo(f"  {f.label}: {'—' if value is None else value}{unit}")
    click.echo("Consent:")
    for item in study.consent:
        d = consent.get(item.id)
        mark = "—" if d is None else ("given" if d.given else "REFUSED")
        who = f" ({d.taken_by}, {d.at})" if d else ""
        click.echo(f"  {item.id}: {mark}{who}")
    if p.compensation:
        click.echo(f"Compensation: {p.compensation['given']} ({p.compensation['at']})")
    if notes:
        click.echo("Notes:")
        for n in notes:
            click.echo(f"  [{n.at[:16].replace('T', ' ')}, {terminal_safe(n.by)}] {terminal_safe(n.text)}")


@participant.command("note")
@vault_option
@click.argument("pseudonym")
@click.argument("text")
@click.pass_context
def participant_note(ctx: click.Context, pseudonym: str, text: str) -> None:
    """Add a quick note on a participant (sealed with their key; never exported)."""
    with open_vault(ctx) as vault:
        note = pcore.add_note(vault, pseudonym, text)
        pid = pcore.normalise_pseudonym(pseudonym)
    click.echo(f"Note added to {pid} ({note.at[:16].replace('T', ' ')}).")


def _write_new(out: str, name: str, data: bytes) -> Path:
    """DATA at OUT (a new file), or at OUT/NAME when OUT is a folder; never over a file."""
    path = Path(out)
    if path.is_dir():
        path = path / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        raise InvalidInput(f"{terminal_safe(path)} already exists; choose a new file name or a folder.") from None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or "not a usable path"
        raise InvalidInput(f"The hand-over cannot be written to '{terminal_safe(path)}' ({why}).") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise InvalidInput(f"The hand-over cannot be written to '{terminal_safe(path)}' ({exc.strerror}).") from None
    return path


@participant.command("hand-over")
@vault_option
@click.argument("pseudonym")
@click.option(
    "--to",
    "to_device",
    required=True,
    metavar="DEVICE",
    help="The receiving laptop's device id (or its start, as `team show` prints it).",
)
@click.option("--out", help="File (or folder) to write the sealed hand-over to, e.g. on a USB stick.")
@click.option(
    "--via-store",
    is_flag=True,
    help="Queue it in the vault instead; the next `fieldscribe sync` puts it in that laptop's inbox on the store.",
)
@click.pass_context
def participant_hand_over(ctx: click.Context, pseudonym: str, to_device: str, out: str | None, via_store: bool) -> None:
    """Seal a participant for another laptop of the team (the study file decides whether this laptop keeps its copy)."""
    if (out is None) == (not via_store):
        raise InvalidInput("Give exactly one of --out FILE (a USB stick) and --via-store (the next sync carries it).")
    written: list[Path] = []
    with open_vault(ctx) as vault:
        if via_store:
            done = handover_core.hand_over(vault, pseudonym, to_device, via_store=True)
        else:
            target = str(out)
            done = handover_core.hand_over(
                vault, pseudonym, to_device, deliver=lambda name, data: written.append(_write_new(target, name, data))
            )
    here = (
        "their personal record here was shredded as the study file decides (their interviews recorded here stay)"
        if done.mode == "shredded"
        else "this laptop keeps its copy as the study file decides"
    )
    click.echo(f"Handed {done.participant} over to {done.to_device[:8]}; {here}.")
    if via_store:
        click.echo(
            f"The sealed file {done.name} is kept in the vault; the next `fieldscribe sync` puts it on the store, "
            "and that laptop takes it in at its own sync. Only that laptop can open it."
        )
        return
    click.echo(
        f"Carry {terminal_safe(written[0])} to that laptop (on a USB stick) and run "
        "`fieldscribe participant receive FILE` there; only that laptop can open it."
    )


@participant.command("receive")
@vault_option
@click.argument("file")
@click.pass_context
def participant_receive(ctx: click.Context, file: str) -> None:
    """Take in a participant handed over to this laptop by another laptop of the team."""
    with open_vault(ctx) as vault:
        f, _size = open_regular(Path(file), handover_core.MAX_FILE, InvalidInput, "hand-over file")
        with f:
            data = f.read(handover_core.MAX_FILE + 1)
        got = handover_core.receive(vault, data)
    how = "handed back" if got.handed_back else "received"
    click.echo(f"{got.participant} {how} from {got.from_device[:8]}, with their consent history as it was taken.")
    if got.table_conflicts:
        click.echo(
            f"{len(got.table_conflicts)} word(s) have another descriptor in this laptop's replacement table; "
            f"the one here stays, and {got.participant}'s interviews are reviewed with theirs too."
        )


class _ConsentGroup(click.Group):
    """`consent P1 …` takes consent (as it always has); `consent summary P1 --out F` writes the
    participant's copy. Anything that is not a subcommand's name goes to `take`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [TAKE, *args]
        return super().parse_args(ctx, args)


TAKE = "take"


@click.group("consent", cls=_ConsentGroup)
def consent() -> None:
    """Take informed consent (`consent P1`), or write its summary for the participant
    (`consent summary P1 --out P1-consent.pdf`)."""


@consent.command(TAKE)
@vault_option
@click.argument("pseudonym")
@click.option("--all", "all_items", is_flag=True, help="Record every consent item as given (for scripts).")
@click.option("--item", "items", multiple=True, metavar="ID=yes|no", help="Record one item.")
@click.option("--note", "notes", multiple=True, metavar="ID=TEXT", help="A note on one item (sealed).")
@click.option("--taken-by", help="Who took consent (default: FIELDSCRIBE_INTERVIEWER or your login).")
@click.pass_context
def consent_take(
    ctx: click.Context,
    pseudonym: str,
    all_items: bool,
    items: tuple[str, ...],
    notes: tuple[str, ...],
    taken_by: str | None,
) -> None:
    """Take informed consent item by item (audio recording is asked separately)."""
    with open_vault(ctx) as vault:
        study = current_guide(vault).study
        pid = pcore.require_active(vault, pseudonym)
        if all_items:
            decisions = {c.id: True for c in study.consent}
        elif items:
            decisions = {k: parse_bool(v, f"consent item {k}") for k, v in parse_pairs(items, "--item").items()}
        else:
            click.echo(f"Consent for {pid} — read each item aloud, then record the answer.")
            decisions = {}
            for c in study.consent:
                label = " (asked separately, before recording starts)" if c.audio_recording else ""
                click.echo(f"\n{c.text}{label}")
                decisions[c.id] = click.confirm("  Given?", default=None)
        recorded = consent_core.record_consent(
            vault, study, pid, decisions, taken_by=taken_by, notes=parse_pairs(notes, "--note")
        )
        complete = consent_core.consent_complete(vault, study, pid)
    given = [d.item_id for d in recorded if d.given]
    refused = [d.item_id for d in recorded if not d.given]
    click.echo(f"{pid}: given {', '.join(given) or 'none'}" + (f"; refused {', '.join(refused)}" if refused else ""))
    if not complete:
        click.echo(f"Consent for {pid} is incomplete: required items are missing or refused.", err=True)


@consent.command("summary")
@vault_option
@click.argument("pseudonym")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="File to write: .pdf (default choice), .html or .txt. Only this file is written.",
)
@click.pass_context
def consent_summary(ctx: click.Context, pseudonym: str, out: str) -> None:
    """Write a de-identified summary of the consent given, for the participant's copy: the
    study, each item with given/refused, the date and who took it; the pseudonym, never a name."""
    from ..core import consent_summary as summary_core

    with open_vault(ctx) as vault:
        summary = summary_core.consent_summary(vault, pseudonym)
    path = summary_core.write_summary(summary, out)
    click.echo(f"Wrote the consent summary of {summary.pseudonym} to {terminal_safe(path)}.")


@click.command("withdraw")
@vault_option
@click.argument("pseudonym")
@click.option("--confirm", "confirmation", metavar="PSEUDONYM", help="Repeat the pseudonym to confirm (for scripts).")
@click.pass_context
def withdraw(ctx: click.Context, pseudonym: str, confirmation: str | None) -> None:
    """Withdraw a participant: destroy their key so none of their data can be read again."""
    with open_vault(ctx) as vault:
        pid = pcore.require_active(vault, pseudonym)
        if confirmation is None:
            click.echo(
                f"Withdrawing {pid} destroys their data key: their records, consent and individual "
                "interviews become unreadable for good; names only their interviews added are removed from the "
                "replacement table, unsent bundles holding them are deleted, and the analysis team is notified "
                "of bundles already sent."
            )
            try:
                confirmation = click.prompt(f"Type {pid} to confirm", default="", show_default=False)
            except click.Abort:
                confirmation = ""
        report = withdrawal.withdraw(vault, pid, confirmation)
        told = handover_core.tell_peers(vault)  # a participant handed over: the other laptop learns it too
    extra = f"; sessions destroyed with them: {', '.join(report.shredded_sessions)}" if report.shredded_sessions else ""
    click.echo(f"{pid} withdrawn{extra}. The pseudonym will not be reused.")
    if report.group_sessions:
        click.echo(
            f"Focus groups {', '.join(report.group_sessions)} stay readable through the other members; remove "
            f"{pid}'s contributions when you review them."
        )
    if report.table_entries_removed:
        click.echo(
            f"Removed {report.table_entries_removed} name(s) only {pid}'s interviews had added to the study's "
            "replacement table."
        )
    if report.held_back:
        click.echo(
            f"Held back and deleted {len(report.held_back)} bundle(s) not yet sent: "
            f"{', '.join(report.held_back)}; export the other sessions in them again."
        )
    if report.sent:
        click.echo(
            f"Already sent to the analysis team: {', '.join(report.sent)}. A signed withdrawal notice goes with "
            "the next `fieldscribe sync`; ask the team to delete these interviews wherever they copied them."
        )
    if report.export_again:
        click.echo(
            f"Export {', '.join(report.export_again)} again: they were in the same bundles as {pid}'s interviews, "
            "which the team deletes whole."
        )
    if told:
        click.echo(
            f"{pid} was handed over between laptops: a signed withdrawal notice for the team's laptops goes with "
            "the next `fieldscribe sync`."
        )


COMMANDS = [participant, consent, withdraw]
