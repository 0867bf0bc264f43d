"""Staff users, their roles and what they are attached to; API tokens; login failures."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Proximity agent")
    ADVISOR = "advisor", _("Advisor")
    MANAGER = "manager", _("Manager")
    CONTRACTOR = "contractor", _("Contractor")
    ADMIN = "admin", _("Administrator")


# The apps an organisation's administrator manages in the admin (its scope applies there).
ADMIN_APPS = {"estate", "accounts", "messaging", "core", "sync", "tickets"}


class User(AbstractUser):
    """A staff member or a contractor's employee. What they see is decided by
    backend.accounts.scoping from the role and the attachments below."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    organisation = models.ForeignKey(
        "estate.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("organisation"),
    )
    agencies = models.ManyToManyField(
        "estate.Agency",
        blank=True,
        related_name="staff",
        verbose_name=_("agencies"),
        help_text=_("Managers and advisors see the residences of these agencies."),
    )
    sectors = models.ManyToManyField(
        "estate.Sector",
        blank=True,
        related_name="agents",
        verbose_name=_("sectors"),
        help_text=_("Proximity agents see the residences of these sectors."),
    )
    provider = models.ForeignKey(
        "estate.Provider",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("provider"),
        help_text=_("Contractors see the sites that their provider's contracts cover."),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "username"]

    def clean(self):
        super().clean()
        if self.role == Role.CONTRACTOR and not self.provider_id:
            raise ValidationError({"provider": _("A contractor must belong to a provider.")})
        if self.role and self.role != Role.CONTRACTOR and self.provider_id:
            raise ValidationError({"provider": _("Only contractors belong to a provider.")})
        if self.role and not self.is_superuser and not self.organisation_id:
            raise ValidationError({"organisation": _("Choose the user's organisation.")})

    def save(self, *args, **kwargs):
        # An organisation's administrators work in the Django admin, scoped to their
        # organisation (backend.accounts.admin_scoping); nobody else needs it.
        if self.role == Role.ADMIN:
            self.is_staff = True
        super().save(*args, **kwargs)

    def has_perm(self, perm, obj=None):
        if self.is_active and self.role == Role.ADMIN and perm.split(".", 1)[0] in ADMIN_APPS:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label):
        if self.is_active and self.role == Role.ADMIN and app_label in ADMIN_APPS:
            return True
        return super().has_module_perms(app_label)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token for an integration. Only its SHA-256 is stored; the key is shown once.

    The key is 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    """

    PREFIX_LENGTH = 8

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str) -> tuple["ApiToken", str]:
        """Create a token; returns it with the clear key, which is never stored."""
        while True:
            prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
            if not cls.objects.filter(prefix=prefix).exists():
                break
        key = f"ronde_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name, prefix=prefix, key_hash=cls.hash_key(key))
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> "ApiToken | None":
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != "ronde":
            return None
        token = (
            cls.objects.usable()
            .select_related("user__organisation")
            .filter(prefix=parts[1])
            .first()
        )
        if token is None or not secrets.compare_digest(token.key_hash, cls.hash_key(key)):
            return None
        return token

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class LoginFailure(models.Model):
    """One failed login, kept 24 hours, keyed by identifier and address together."""

    key = models.CharField(_("key"), max_length=300, db_index=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins")

    def __str__(self):
        return f"{self.key} {self.created_at:%Y-%m-%d %H:%M}"
