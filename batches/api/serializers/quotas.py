"""A day's quota of a crossing, in the words of its direction."""

from rest_framework import serializers

from casetracker.api.fields import TextField

from ...models import Direction, InformationSource
from .common import crossing_field


def _agreed(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, help_text=help_text
    )


class CrossingQuotaSerializer(serializers.Serializer):
    """What was agreed for one day, crossing and direction. Out (`exit`): `agreed_patients`
    and `agreed_companions`, both required. Back in (`return`): `agreed_returnees` only; a
    return quota has no companions, and a return quota given `agreed_companions` or
    `agreed_patients` is refused naming the field. An answer carries the numbers of its
    direction only.

    POST sets a day's quota, or changes its numbers: a change needs `source` (who agreed the
    new numbers), and both the first numbers and every change are audit events (subject type
    `quota`, with the old and new numbers)."""

    id = serializers.IntegerField(read_only=True)
    crossing = crossing_field()
    date = serializers.DateField()
    direction = serializers.ChoiceField(choices=Direction.choices)
    agreed_patients = _agreed("exit only: patients allowed out")
    agreed_companions = _agreed("exit only: companions allowed out with them")
    agreed_returnees = _agreed("return only: people allowed back")
    source = serializers.ChoiceField(
        choices=InformationSource.choices,
        required=False,
        write_only=True,
        help_text="who agreed these numbers; required to change a day's numbers",
    )
    note = TextField(
        max_length=2000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="what was agreed and how, for the audit log",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.is_exit:
            unsaid = ("agreed_returnees",)
        else:
            unsaid = ("agreed_patients", "agreed_companions")
        for name in unsaid:
            data.pop(name, None)
        return data
