from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class FacilityKind(models.TextChoices):
    HOSPITAL = "hospital", _("Hospital")
    STAGING = "staging", _("Staging point")
    FIELD_HOSPITAL = "field_hospital", _("Field hospital")


class Governorate(models.TextChoices):
    NORTH_GAZA = "north_gaza", _("North Gaza")
    GAZA = "gaza", _("Gaza")
    DEIR_AL_BALAH = "deir_al_balah", _("Deir al-Balah")
    KHAN_YOUNIS = "khan_younis", _("Khan Younis")
    RAFAH = "rafah", _("Rafah")


class FacilityQuerySet(models.QuerySet):
    def visible_to(self, user) -> "FacilityQuerySet":
        # Facility names are not personal data: every signed-in role may read them.
        from .roles import Role, user_role

        return self.none() if user_role(user) is Role.ANONYMOUS else self


class Facility(models.Model):
    code = models.SlugField(max_length=32, unique=True, verbose_name=_("code"))
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ar = models.CharField(_("name (Arabic)"), max_length=200)
    kind = models.CharField(max_length=20, choices=FacilityKind.choices, verbose_name=_("kind"))
    governorate = models.CharField(
        max_length=20, choices=Governorate.choices, verbose_name=_("governorate")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    objects = FacilityQuerySet.as_manager()

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=FacilityKind.values), name="facility_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(governorate__in=Governorate.values),
                name="facility_governorate_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} - {self.name}"

    @property
    def name(self) -> str:
        """The name in the active language (the English one when no Arabic name is stored)."""
        language = (get_language() or "").split("-")[0]
        return self.name_ar if language == "ar" and self.name_ar else self.name_en


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    ARABIC = "ar", "العربية"


class User(AbstractUser):
    facility = models.ForeignKey(
        Facility,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text=_("Hospital staff see only this facility's patients and batches."),
        verbose_name=_("facility"),
    )
    preferred_language = models.CharField(
        max_length=5,
        choices=Language.choices,
        default=Language.ENGLISH,
        verbose_name=_("preferred language"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(preferred_language__in=Language.values),
                name="user_language_valid",
            ),
        ]
