from rest_framework import mixins, viewsets


class ServiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Reads through the model's `visible_to`; creates and updates through the app's services.

    Subclasses set `model`, `create_service` and `update_service` (called with the validated
    fields as keywords, the actor, and the instance under `instance_kwarg`)."""

    model = None
    create_service = None
    update_service = None
    instance_kwarg = "instance"
    related = ()

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user).select_related(*self.related)

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(
            actor=self.request.user,
            **{self.instance_kwarg: serializer.instance},
            **serializer.validated_data,
        )
