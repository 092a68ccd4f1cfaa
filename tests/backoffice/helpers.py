"""Filling the back office's forms as a user does in the browser."""

from casetracker.audit.models import Event
from tests.html_forms import HtmlForm


def events_since(before: int) -> list[Event]:
    return list(Event.objects.order_by("pk")[before:])


def pick_from_autocomplete(client, form: HtmlForm, name: str, *, term: str, row) -> None:
    """Choose `row` in an autocomplete <select>, as a user does.

    Such a select carries no options in the HTML: the admin's script asks the autocomplete
    view (`admin:autocomplete`) for what the user types and adds the result they pick as an
    option. So: ask that view with the typed `term`, check it offers the row, then offer its
    value in the select (what the script does) and choose it."""
    select = form.tag.find("select", attrs={"name": name})
    assert select is not None, f"no select {name!r} in the form"
    assert "admin-autocomplete" in select.get("class", []), f"{name!r} is not an autocomplete"
    response = client.get(
        select["data-ajax--url"],
        {
            "term": term,
            "app_label": select["data-app-label"],
            "model_name": select["data-model-name"],
            "field_name": select["data-field-name"],
        },
    )
    assert response.status_code == 200, response.content
    offered = [result["id"] for result in response.json()["results"]]
    assert str(row.pk) in offered, f"typing {term!r} in {name!r} offers {offered}"
    form.controls[name][0].options.append(str(row.pk))  # what the script adds on a pick
    form.fill(**{name: str(row.pk)})
