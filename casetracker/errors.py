"""The one exception for refused state changes: HTTP 409 in the API, a form error on pages."""

from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy


class TransitionRefused(Exception):
    """A state change the rules do not allow now. `problems` lists every reason, readable as is."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


# A state named inside a refusal. English reads the state's code, as it always did (people and
# API clients match it); other languages read a word. Machine fields keep the code.
STATE_WORDS = {
    "waiting": pgettext_lazy("state in a message", "waiting"),
    "scheduled": pgettext_lazy("state in a message", "scheduled"),
    "evacuated": pgettext_lazy("state in a message", "evacuated"),
    "deceased": pgettext_lazy("state in a message", "deceased"),
    "withdrawn": pgettext_lazy("state in a message", "withdrawn"),
    "returned": pgettext_lazy("state in a message", "returned"),
    "pending": pgettext_lazy("state in a message", "pending"),
    "approved": pgettext_lazy("state in a message", "approved"),
    "rejected": pgettext_lazy("state in a message", "rejected"),
    "expired": pgettext_lazy("state in a message", "expired"),
    "draft": pgettext_lazy("state in a message", "draft"),
    "prepared": pgettext_lazy("state in a message", "prepared"),
    "submitted": pgettext_lazy("state in a message", "submitted"),
    "cleared": pgettext_lazy("state in a message", "cleared"),
    "in_transit": pgettext_lazy("state in a message", "in_transit"),
    "crossed": pgettext_lazy("state in a message", "crossed"),
    "cancelled": pgettext_lazy("state in a message", "cancelled"),
}


def state_word(code: str) -> str:
    """The state `code` as a refusal names it in the active language (English: the code)."""
    return str(STATE_WORDS.get(code, code))


def check_transition(table: dict[str, set[str]], current: str, target: str, what: str) -> None:
    """Refuse a move that the transition table does not declare. `what` names the record in
    the active language ("patient EV-7K3Q9M")."""
    if target not in table.get(current, set()):
        raise TransitionRefused(
            _("%(what)s is %(current)s and cannot become %(target)s")
            % {"what": what, "current": state_word(current), "target": state_word(target)}
        )
