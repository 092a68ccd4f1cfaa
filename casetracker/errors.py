"""The one exception for refused state changes: HTTP 409 in the API, a form error on pages."""


class TransitionRefused(Exception):
    """A state change the rules do not allow now. `problems` lists every reason, readable as is."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


def check_transition(table: dict[str, set[str]], current: str, target: str, what: str) -> None:
    """Refuse a move that the transition table does not declare."""
    if target not in table.get(current, set()):
        raise TransitionRefused(f"{what} is {current} and cannot become {target}")
