"""Submitting a form exactly as a browser would from its rendered HTML (DESIGN section 5,
convention 8): what the page shows is what is posted, no hand-built dict.

    form = read_form(client.get(url), "#cancel")
    form.fill(reason_code="security", reason_text="Road closed", source="who")
    response = form.submit(client)

`fill` refuses a field the page does not show, a choice it does not offer and a hidden field (a
user cannot type into one); `submit` refuses, as the browser does, a form with a required field
left empty, and posts the successful controls of the form (checked boxes, selected options, the
button pressed) to its action."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

TEXT_TYPES = {
    "text",
    "search",
    "tel",
    "email",
    "url",
    "password",
    "number",
    "date",
    "datetime-local",
    "time",
    "month",
    "week",
}


class FormError(AssertionError):
    """The user could not have done this on the rendered page."""


@dataclass
class Control:
    name: str
    kind: str  # text types, "hidden", "checkbox", "radio", "select", "textarea", "file"
    required: bool
    disabled: bool
    options: list[str] = field(default_factory=list)  # select and radio: the values offered
    multiple: bool = False
    value: str | list[str] | None = None  # what the browser sends (None: nothing)
    checkbox_value: str = "on"


def _disabled(tag: Tag) -> bool:
    return tag.has_attr("disabled") or any(
        parent.name == "fieldset" and parent.has_attr("disabled") for parent in tag.parents
    )


class HtmlForm:
    def __init__(self, tag: Tag, page_url: str):
        self.tag = tag
        self.page_url = page_url
        self.method = (tag.get("method") or "get").lower()
        self.action = urljoin(page_url, tag.get("action") or page_url)
        self.novalidate = tag.has_attr("novalidate")
        self.controls: dict[str, list[Control]] = {}
        self.buttons: list[tuple[str, str, Tag]] = []
        form_id = tag.get("id")
        elements = list(tag.find_all(["input", "select", "textarea", "button"]))
        if form_id:
            # Controls outside the form that name it with form="..."
            root = tag.find_parent("html") or tag
            elements += [
                el
                for el in root.find_all(["input", "select", "textarea", "button"], form=form_id)
                if el not in elements
            ]
        for element in elements:
            self._add(element)

    def _add(self, el: Tag) -> None:
        kind = el.name
        if kind == "button" or (kind == "input" and el.get("type") in ("submit", "image")):
            if not _disabled(el):
                self.buttons.append((el.get("name", ""), el.get("value", ""), el))
            return
        name = el.get("name")
        if not name:
            return
        required, disabled = el.has_attr("required"), _disabled(el)
        if kind == "select":
            every = el.find_all("option")
            options = [opt.get("value", opt.get_text()) for opt in every if not _disabled(opt)]
            multiple = el.has_attr("multiple")
            chosen = [opt.get("value", opt.get_text()) for opt in every if opt.has_attr("selected")]
            if not multiple:
                # Nothing selected: a browser shows, and sends, the first option.
                value = chosen[-1] if chosen else (options[0] if options else None)
            else:
                value = chosen
            control = Control(name, "select", required, disabled, options, multiple, value)
        elif kind == "textarea":
            text = el.get_text()
            control = Control(name, "textarea", required, disabled, value=text.removeprefix("\n"))
        else:
            input_type = (el.get("type") or "text").lower()
            if input_type in ("reset", "button"):
                return
            if input_type in ("checkbox", "radio"):
                value = el.get("value", "on")
                control = Control(
                    name,
                    input_type,
                    required,
                    disabled,
                    options=[value],
                    value=value if el.has_attr("checked") else None,
                    checkbox_value=value,
                )
            else:
                kind = input_type if input_type in (*TEXT_TYPES, "hidden", "file") else "text"
                control = Control(name, kind, required, disabled, value=el.get("value", ""))
        self.controls.setdefault(name, []).append(control)

    # --- what a user does ----------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self.controls)

    def fill(self, **values) -> HtmlForm:
        """Type into, choose in, tick or untick visible fields. Checkboxes take True/False (or
        the value of the box to tick among several of one name), radios and selects a value."""
        for name, value in values.items():
            self.set(name, value)
        return self

    def set(self, name: str, value) -> HtmlForm:
        controls = self.controls.get(name)
        if not controls:
            raise FormError(f"the form has no field {name!r}; it shows {self.names()}")
        first = controls[0]
        if all(c.disabled for c in controls):
            raise FormError(f"field {name!r} is disabled")
        if first.kind == "hidden":
            raise FormError(f"field {name!r} is hidden: a user cannot change it")
        if first.kind == "checkbox":
            self._tick(name, controls, value)
        elif first.kind == "radio":
            offered = [c.checkbox_value for c in controls]
            if value not in offered:
                raise FormError(f"{name!r} offers {offered}, not {value!r}")
            for c in controls:
                c.value = c.checkbox_value if c.checkbox_value == value else None
        elif first.kind == "select":
            chosen = list(value) if first.multiple else [value]
            for v in chosen:
                if str(v) not in first.options:
                    raise FormError(f"{name!r} offers {first.options}, not {v!r}")
            first.value = [str(v) for v in chosen] if first.multiple else str(value)
        else:
            first.value = "" if value is None else str(value)
        return self

    def _tick(self, name: str, controls: list[Control], value) -> None:
        if isinstance(value, bool):
            if len(controls) != 1:
                raise FormError(f"{name!r} has several boxes: give the value of one")
            controls[0].value = controls[0].checkbox_value if value else None
            return
        wanted = {str(v) for v in (value if isinstance(value, list | tuple | set) else [value])}
        offered = {c.checkbox_value for c in controls}
        if not wanted <= offered:
            raise FormError(f"{name!r} offers boxes {sorted(offered)}, not {sorted(wanted)}")
        for c in controls:
            c.value = c.checkbox_value if c.checkbox_value in wanted else None

    def attach(self, name: str, file) -> HtmlForm:
        """Choose a file (a Django `SimpleUploadedFile`) in a file field the page shows."""
        controls = self.controls.get(name)
        if not controls or controls[0].kind != "file":
            raise FormError(f"the form has no file field {name!r}; it shows {self.names()}")
        controls[0].value = file
        return self

    def value(self, name: str):
        controls = self.controls[name]
        if controls[0].kind in ("checkbox", "radio"):
            return [c.value for c in controls if c.value is not None]
        return controls[0].value

    def missing_required(self) -> list[str]:
        missing = []
        for name, controls in self.controls.items():
            live = [c for c in controls if c.required and not c.disabled]
            if not live:
                continue
            if live[0].kind in ("checkbox", "radio"):
                empty = all(c.value is None for c in controls)
            else:
                empty = live[0].value in (None, "", [])
            if empty:
                missing.append(name)
        return missing

    def data(self, button: str | None = None) -> dict[str, list[str]]:
        """The successful controls, as the browser encodes them; with the pressed button's
        name and value (`button`: its name, its value, or its text)."""
        out: dict[str, list[str]] = {}
        for name, controls in self.controls.items():
            for c in controls:
                if c.disabled or c.value is None or (c.kind == "file" and not c.value):
                    continue
                values = c.value if isinstance(c.value, list) else [c.value]
                out.setdefault(name, []).extend(values)
        pressed = self._button(button)
        if pressed and pressed[0]:
            out.setdefault(pressed[0], []).append(pressed[1])
        return out

    def _button(self, which: str | None):
        if not self.buttons:
            return None
        if which is None:
            return self.buttons[0]
        for name, value, tag in self.buttons:
            if which in (name, value, tag.get_text(strip=True)):
                return name, value, tag
        shown = [(n, v, t.get_text(strip=True)) for n, v, t in self.buttons]
        raise FormError(f"no button {which!r}; the form has {shown}")

    def submit(self, client, button: str | None = None, **extra):
        """Post (or get) the form as the browser would, pressing `button`."""
        if not self.novalidate:
            missing = self.missing_required()
            if missing:
                raise FormError(f"the browser refuses to send: required {missing} are empty")
        data = self.data(button)
        if self.method == "post":
            return client.post(self.action, data, **extra)
        return client.get(self.action, data, **extra)


def read_form(page, selector: str | None = None, *, url: str | None = None) -> HtmlForm:
    """The form on a page (a response or HTML text): the one matching the CSS `selector`, or
    the page's only form with a method of post (else its first form)."""
    if hasattr(page, "content"):
        html = page.content.decode()
        url = url or page.wsgi_request.get_full_path()
    else:
        html = page
    soup = BeautifulSoup(html, "html.parser")
    if selector:
        tag = soup.select_one(selector)
        if tag is None or tag.name != "form":
            raise FormError(f"no form matches {selector!r}")
    else:
        forms = soup.find_all("form")
        posting = [f for f in forms if (f.get("method") or "").lower() == "post"]
        # The language switch and the sign-out are in every header: not the form a test means.
        posting = [
            f
            for f in posting
            if "lang" not in (f.get("class") or []) and f.get("id") != "logout-form"
        ]
        if len(posting) != 1:
            raise FormError(f"the page has {len(posting)} forms that post: give a selector")
        tag = posting[0]
    return HtmlForm(tag, url or "/")


def all_forms(page) -> list[HtmlForm]:
    html = page.content.decode() if hasattr(page, "content") else page
    url = page.wsgi_request.get_full_path() if hasattr(page, "content") else "/"
    soup = BeautifulSoup(html, "html.parser")
    return [HtmlForm(tag, url) for tag in soup.find_all("form")]
