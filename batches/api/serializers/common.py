"""Fields and helpers the batch serializers share: the crossing, the time a step occurred, who
relayed a fact, a choice blank until its step happens, the objects answered together (one
look-up for a whole page) and a redaction as the API shows it."""

from rest_framework import serializers

from casetracker.api.fields import OccurredAtField, ScopedSlugRelatedField
from casetracker.api.serializers import RedactionSerializer
from casetracker.audit.models import EventText

from ...models import Crossing, InformationSource


def _serialized_with(serializer: serializers.Serializer, obj) -> list:
    """The objects answered together with `obj`: the whole page or list when `serializer` is
    the child of a list, so a look-up made for one of them is made once for all."""
    parent = serializer.parent
    if isinstance(parent, serializers.ListSerializer) and parent.instance is not None:
        return list(parent.instance)
    return [obj]


def _redaction(found: EventText | None) -> dict | None:
    return RedactionSerializer(found).data if found is not None else None


def _until_set(choices) -> serializers.ChoiceField:
    """A read-only choice that stays blank until its step happens (the schema says so: the
    generated field would promise one of the choices)."""
    return serializers.ChoiceField(choices=choices, read_only=True, allow_blank=True)


def crossing_field(**kwargs) -> ScopedSlugRelatedField:
    """A crossing by its code (`rafah`, `kerem-shalom`...); Rafah when not given."""
    return ScopedSlugRelatedField(
        slug_field="code",
        queryset=Crossing.objects.all(),
        required=False,
        help_text="crossing code, such as rafah or kerem-shalom (default: rafah)",
        **kwargs,
    )


# What a fact of a batch must not precede (`batches.services.common.batch_occurred_at`).
AFTER_BATCH_EVENT = "the batch's latest event"


def occurred_at_field(**kwargs) -> OccurredAtField:
    return OccurredAtField(follows=AFTER_BATCH_EVENT, **kwargs)


def relayed_by_field(what: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=InformationSource.choices,
        required=False,
        allow_blank=True,
        help_text=f"who relayed {what} to us (e.g. who for a decision of the border authority); "
        "empty or left out: we heard it directly",
    )
