"""Filters for the people on manifest lines."""

from datetime import date

from django import template
from django.conf import settings

from patients.models import age_on

register = template.Library()


@register.filter
def person(line):
    """The patient, companion or returnee on a manifest line."""
    return line.person


@register.filter(name="age_on")
def age_on_filter(person, day: date) -> int | str:
    if person is None or not getattr(person, "date_of_birth", None) or not day:
        return ""
    return age_on(person.date_of_birth, day)


@register.filter
def is_child(age) -> bool:
    return isinstance(age, int) and age < settings.ADULT_AGE


@register.filter
def bound_line(form, line):
    """The field of `form` (a crossing form) for one manifest line."""
    return form.bound_line(line)
