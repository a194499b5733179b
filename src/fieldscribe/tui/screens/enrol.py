"""Enrolment as three short steps, in the order they happen with the person in front of you:
eligibility, consent read out item by item (audio recording asked separately), then the
baseline questionnaire. Nothing is stored until the last step, so walking away mid-way
leaves no half-enrolled person in the vault."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Button, Checkbox, Header, Input, Label, Select, Static

from ...services import FieldscribeError, NotEligible
from ..messages import ParticipantEnrolled
from ..strings import error_text, tr
from ..widgets import FieldFooter, TickBox
from .base import BaseScreen


@dataclass
class Draft:
    group: str = ""
    site: str | None = None
    name: str | None = None
    contact: str | None = None
    eligibility: dict[str, bool] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)


def _short(text: str, width: int = 70) -> str:
    """The first words of a consent item: what the person agreed to, not its internal id."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


def start_enrolment(app: App) -> None:
    app.push_screen(EligibilityScreen(Draft()))


class _Step(BaseScreen):
    BINDINGS = [
        Binding("ctrl+n", "next", "Next step", id="enrol.next", tooltip="Check this step and go on"),
        Binding("escape", "cancel", "Cancel", id="enrol.cancel", tooltip="Stop enrolling; nothing is saved"),
    ]

    def __init__(self, draft: Draft) -> None:
        super().__init__()
        self.draft = draft

    def action_cancel(self) -> None:
        self.app.pop_screen()
        self.notify(tr("enrol.cancelled"))

    @on(Button.Pressed, "#next")
    def _pressed(self) -> None:
        self.action_next()

    def action_next(self) -> None:  # pragma: no cover - every step overrides it
        raise NotImplementedError

    def problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(text)
        self.notify(text, severity="error", timeout=8)


class EligibilityScreen(_Step):
    def compose(self) -> ComposeResult:
        form = self.services.enrolment_form()
        yield Header()
        with VerticalScroll(classes="form"):
            yield Label(tr("enrol.step", n=1, title=tr("enrol.eligibility")), classes="step-title")
            yield Select(
                [(g.label, g.value) for g in form.groups], id="group", prompt=tr("enrol.group"), allow_blank=True
            )
            yield Select([(name, name) for name in form.sites], id="site", prompt=tr("enrol.site"))
            yield Input(placeholder=tr("enrol.name"), id="name")
            yield Input(placeholder=tr("enrol.contact"), id="contact")
            yield Label(tr("enrol.inclusion"), classes="section")
            for c in form.inclusion:
                yield TickBox(Text(c.text), id=f"inc-{c.id}")
            if form.exclusion:
                yield Label(tr("enrol.exclusion"), classes="section")
                for c in form.exclusion:
                    yield TickBox(Text(c.text), id=f"exc-{c.id}")
            yield Static("", id="problem", classes="problem")
            yield Button(tr("enrol.next_consent"), id="next", variant="primary")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.query_one("#group", Select).focus()  # the first question, ready for the keyboard

    def action_next(self) -> None:
        form = self.services.enrolment_form()
        group = self.query_one("#group", Select).value
        if group is Select.NULL:
            self.problem(tr("enrol.choose_group"))
            return
        answers = {c.id: self.query_one(f"#inc-{c.id}", Checkbox).value for c in form.inclusion}
        answers |= {c.id: self.query_one(f"#exc-{c.id}", Checkbox).value for c in form.exclusion}
        try:
            self.services.check_eligibility(answers)
        except NotEligible as exc:
            reasons = [tr("enrol.unmet", text=t) for t in exc.unmet]
            reasons += [tr("enrol.excluded", text=t) for t in exc.excluded]
            self.problem(tr("enrol.not_eligible", reasons="; ".join(reasons)))
            return
        site = self.query_one("#site", Select).value
        self.draft.group = str(group)
        self.draft.site = None if site is Select.NULL else str(site)
        self.draft.name = self.query_one("#name", Input).value.strip() or None
        self.draft.contact = self.query_one("#contact", Input).value.strip() or None
        self.draft.eligibility = answers
        self.app.switch_screen(ConsentScreen(self.draft))


class ConsentScreen(_Step):
    """One item at a time, read aloud; Y records it as given, N as refused."""

    BINDINGS = [
        Binding("y", "answer(True)", "Agrees", id="consent.yes", tooltip="The person agrees to this item"),
        Binding("n", "answer(False)", "Does not agree", id="consent.no", tooltip="The person does not agree"),
        Binding("backspace", "back", "Back", id="consent.back", tooltip="Ask the previous item again"),
    ]

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.items = self.services.enrolment_form().consent  # the audio item last, on its own
        self.position = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="form"):
            yield Label(tr("enrol.step", n=2, title=tr("enrol.consent")), classes="step-title")
            yield Static(id="consent-counter")
            yield Static(id="consent-item", classes="big-text")
            yield Static(id="consent-answers")
            yield Static("", id="problem", classes="problem")
            yield Button(tr("enrol.next_questionnaire"), id="next", variant="primary")
        yield FieldFooter()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        done = self.position >= len(self.items)
        if not done:
            item = self.items[self.position]
            heading = tr("enrol.audio") + "\n\n" if item.audio_recording else ""
            self.query_one("#consent-item", Static).update(Text(heading + item.text))
            self.query_one("#consent-counter", Static).update(
                tr("enrol.item_of", n=self.position + 1, total=len(self.items))
                + ("" if item.required else tr("enrol.optional"))
            )
        else:
            self.query_one("#consent-item", Static).update(tr("enrol.all_answered"))
            self.query_one("#consent-counter", Static).update("")
        self.query_one("#consent-answers", Static).update(
            "\n".join(
                f"{tr('enrol.agrees') if self.draft.consent[c.id] else tr('enrol.refuses')}  {_short(c.text)}"
                for c in self.items
                if c.id in self.draft.consent
            )
        )
        self.query_one("#next", Button).disabled = not done

    def action_answer(self, given: bool) -> None:
        if self.position >= len(self.items):
            return
        self.draft.consent[self.items[self.position].id] = given
        self.position += 1
        self._show()

    def action_back(self) -> None:
        if self.position > 0:
            self.position -= 1
            self.draft.consent.pop(self.items[self.position].id, None)
            self._show()

    def action_next(self) -> None:
        if self.position < len(self.items):
            self.problem(tr("enrol.answer_all"))
            return
        refused = [c for c in self.items if c.required and not c.audio_recording and not self.draft.consent[c.id]]
        if refused:
            self.problem(tr("enrol.required_refused", item=_short(refused[0].text, 40)))
            return
        audio = self.items[-1]
        if not self.draft.consent[audio.id]:
            self.notify(tr("enrol.no_audio"), severity="warning", timeout=8)
        self.app.switch_screen(QuestionnaireScreen(self.draft))


class QuestionnaireScreen(_Step):
    BINDINGS = [
        Binding("ctrl+s", "next", "Enrol", id="enrol.save", tooltip="Check the answers and enrol"),
    ]

    def compose(self) -> ComposeResult:
        form = self.services.enrolment_form()
        yield Header()
        with VerticalScroll(classes="form"):
            yield Label(tr("enrol.step", n=3, title=tr("enrol.questionnaire")), classes="step-title")
            for f in form.fields:
                yield Label(f.label + (" *" if f.required else ""), classes="field-label")
                if f.input == "choice":
                    yield Select([(c.label, c.value) for c in f.choices], id=f"q-{f.id}", prompt=tr("enrol.choose"))
                else:
                    yield Input(id=f"q-{f.id}", type=f.input)
                yield Static("", id=f"err-{f.id}", classes="field-error")
            yield Label(tr("enrol.compensation"), classes="field-label")
            yield Input(id="compensation")
            yield Static("", id="problem", classes="problem")
            yield Button(tr("enrol.enrol_button"), id="next", variant="success")
        yield FieldFooter()

    def on_mount(self) -> None:
        first = self.query(".form Input, .form Select").first()
        first.focus()  # typing goes into the first answer, not nowhere

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        """An answer is checked as it is typed: a wrong one says so, a corrected one stops saying it."""
        field_id = (event.input.id or "").removeprefix("q-")
        if event.input.id and event.input.id.startswith("q-") and event.value:
            self._check(field_id, event.value, required=False)
        elif event.input.id and event.input.id.startswith("q-"):
            self.query_one(f"#err-{field_id}", Static).update("")

    def _check(self, field_id: str, raw: Any, *, required: bool) -> tuple[bool, Any]:
        err = self.query_one(f"#err-{field_id}", Static)
        err.update("")
        if raw in (None, ""):
            if required:
                err.update(tr("enrol.required"))
                return False, None
            return True, None
        try:
            return True, self.services.parse_answer(field_id, raw)
        except FieldscribeError as exc:
            err.update(self._wrong(field_id, exc))
            return False, None

    def _wrong(self, field_id: str, exc: FieldscribeError) -> str:
        """What is wrong with an answer, in the interface's words where the field says enough."""
        f = next((f for f in self.services.enrolment_form().fields if f.id == field_id), None)
        if f is None or f.input in ("text",):
            return error_text(exc)
        if f.input == "choice":
            return tr("enrol.not_a_choice")
        if f.low is not None and f.high is not None:
            key = "enrol.bad_whole" if f.input == "integer" else "enrol.bad_number"
            return tr(key, low=f"{f.low:g}", high=f"{f.high:g}")
        return tr("enrol.not_a_number")

    def answers(self) -> dict[str, Any] | None:
        """Every field's answer, checked by the core; None (and the reasons shown) if any is wrong."""
        out: dict[str, Any] = {}
        ok = True
        for f in self.services.enrolment_form().fields:
            widget = cast("Input | Select[Any]", self.query_one(f"#q-{f.id}"))  # composed as one or the other
            raw = widget.value if isinstance(widget, Input) else (None if widget.value is Select.NULL else widget.value)
            good, value = self._check(f.id, raw, required=f.required)
            ok = ok and good
            if good and raw not in (None, ""):
                out[f.id] = value
        return out if ok else None

    def action_next(self) -> None:
        answers = self.answers()
        if answers is None:
            self.problem(tr("enrol.fix_answers"))
            return
        pid = self.attempt(
            self.services.enrol,
            group=self.draft.group,
            name=self.draft.name,
            site=self.draft.site,
            contact=self.draft.contact,
            eligibility=self.draft.eligibility,
            baseline=answers,
            compensation=self.query_one("#compensation", Input).value.strip() or None,
            consent_decisions=self.draft.consent,
        )
        if pid is None:
            return
        self.emit(ParticipantEnrolled(pid))
        self.app.pop_screen()
        self.app.notify(tr("enrol.enrolled", pid=pid))
