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
    TENANT = "tenant", _("Tenant")


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
    # Changed to log the user out of every device: it is part of the session's hash.
    session_salt = models.CharField(max_length=32, blank=True, editable=False)

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

    def get_session_auth_hash(self):
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "backend.accounts.User.session",
            f"{self.password}|{self.session_salt}",
            algorithm="sha256",
        ).hexdigest()

    def log_out_everywhere(self) -> None:
        self.session_salt = secrets.token_hex(16)
        self.save(update_fields=["session_salt"])

    @property
    def is_tenant(self) -> bool:
        return self.role == Role.TENANT


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


# --- the tenant extranet (docs/tenants.md) ---------------------------------------------------


class TenantAccount(models.Model):
    """A tenant's extranet account: a User of role "tenant", one person of a household, and the
    homes (households) it may read. One registration per household is enough; each
    co-signatory may have their own account on the same household."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting e-mail verification")
        ACTIVE = "active", _("Active")
        DEPARTED = "departed", _("Departed (read-only)")
        DEACTIVATED = "deactivated", _("Deactivated")
        ANONYMISED = "anonymised", _("Anonymised")

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="tenant")
    organisation = models.ForeignKey(
        "estate.Organisation", on_delete=models.PROTECT, related_name="tenant_accounts"
    )
    person = models.ForeignKey(
        "estate.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
        verbose_name=_("person"),
    )
    households = models.ManyToManyField(
        "estate.Household", through="AccountHome", related_name="accounts"
    )
    current_household = models.ForeignKey(
        "estate.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    email = models.EmailField(_("e-mail"), blank=True)
    pending_email = models.EmailField(_("new e-mail awaiting verification"), blank=True)
    mobile = models.CharField(_("login mobile"), max_length=16, blank=True)
    mobile_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    departed_at = models.DateTimeField(_("departure"), null=True, blank=True)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    inactivity_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("tenant account")
        verbose_name_plural = _("tenant accounts")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=~models.Q(email=""),
                name="tenant_email_unique",
            ),
            models.UniqueConstraint(
                fields=["organisation", "mobile"],
                condition=~models.Q(mobile=""),
                name="tenant_mobile_unique",
            ),
        ]

    def __str__(self):
        return self.email or f"#{self.pk}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        from backend.estate.models import households_living_in

        return queryset.filter(households__in=households_living_in(residences)).distinct()

    PERSONAL_DATA = True

    @property
    def read_only(self) -> bool:
        return self.status == self.Status.DEPARTED


class AccountHome(models.Model):
    """A household an account reads (several after a merge of contracts)."""

    account = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="homes")
    household = models.ForeignKey(
        "estate.Household", on_delete=models.CASCADE, related_name="account_homes"
    )
    added_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "household"], name="account_home_once")
        ]

    def __str__(self):
        return f"{self.account} → {self.household_id}"


class Consent(models.Model):
    """One answer to one question, with its date and version: the current answer is the
    latest row of its kind (the history stays, as proof)."""

    class Kind(models.TextChoices):
        PAPERLESS = "paperless", _("Rent notice by e-mail (paperless)")
        COMMERCIAL = "commercial", _("Commercial information")
        GENERAL = "general", _("General information")
        TERMS = "terms", _("Terms of use")
        PRIVACY = "privacy", _("Privacy policy")

    account = models.ForeignKey(
        TenantAccount, on_delete=models.SET_NULL, null=True, related_name="consents"
    )
    household = models.ForeignKey(
        "estate.Household", on_delete=models.CASCADE, related_name="consents"
    )
    person = models.ForeignKey(
        "estate.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("consent"), max_length=15, choices=Kind.choices)
    granted = models.BooleanField(_("yes"))
    version = models.CharField(_("version"), max_length=20)
    source = models.CharField(_("source"), max_length=20)
    at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["household", "kind", "-at"], name="consent_latest")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.granted}"


class ProvisionalCredential(models.Model):
    """An identifier and password issued by the agency (printed letters), for activation."""

    household = models.ForeignKey(
        "estate.Household", on_delete=models.CASCADE, related_name="provisional_credentials"
    )
    identifier = models.CharField(_("provisional identifier"), max_length=20, unique=True)
    secret_hash = models.CharField(max_length=200)
    batch = models.CharField(_("batch"), max_length=40, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provisional credentials")
        verbose_name_plural = _("provisional credentials")

    def __str__(self):
        return self.identifier


class AccountToken(models.Model):
    """A single-use, expiring secret sent by e-mail or SMS: only its SHA-256 is stored."""

    class Purpose(models.TextChoices):
        VERIFY_EMAIL = "verify_email", _("E-mail verification")
        RESET_PASSWORD = "reset_password", _("Password reset")
        CHANGE_EMAIL = "change_email", _("New e-mail verification")
        MOBILE_CODE = "mobile_code", _("Mobile verification code")
        LOGIN_CODE = "login_code", _("Login code by SMS")

    account = models.ForeignKey(TenantAccount, on_delete=models.CASCADE, related_name="tokens")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # The secret is an HMAC of this nonce under SECRET_KEY: the sending job rebuilds it, and
    # the database alone (its readers, the job rows) never holds a usable link.
    nonce = models.CharField(max_length=64, blank=True, editable=False)
    target = models.CharField(max_length=254, blank=True)  # the address being verified
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.purpose} {self.created_at:%Y-%m-%d}"


class HouseholdDocument(models.Model):
    """A document of a household as last imported from the landlord's ERP."""

    class Kind(models.TextChoices):
        RENT_NOTICE = "rent_notice", _("Rent notice")
        RECEIPT = "receipt", _("Rent receipt")
        CERTIFICATE = "certificate", _("Certificate")
        OTHER = "other", _("Other")

    household = models.ForeignKey(
        "estate.Household", on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    period = models.DateField(_("period"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="tenants/documents/%Y/%m/")
    is_demo = models.BooleanField(_("demo document"), default=False)
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    PERSONAL_DATA = True

    class Meta:
        verbose_name = _("household document")
        verbose_name_plural = _("household documents")
        ordering = ["-period", "-imported_at"]

    def __str__(self):
        return self.title

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        from backend.estate.models import households_living_in

        return queryset.filter(household_id__in=households_living_in(residences))


class HouseholdBalance(models.Model):
    """A household's account balance as last imported (positive: the tenant owes)."""

    household = models.OneToOneField(
        "estate.Household", on_delete=models.CASCADE, related_name="balance"
    )
    amount = models.DecimalField(_("balance (€)"), max_digits=10, decimal_places=2)
    as_of = models.DateField(_("as of"))

    def __str__(self):
        return f"{self.amount} € ({self.as_of})"


class InsuranceCertificate(models.Model):
    """The yearly home-insurance certificate the tenant uploads (loi 89-462, art. 7 g)."""

    household = models.ForeignKey(
        "estate.Household", on_delete=models.CASCADE, related_name="insurance_certificates"
    )
    file = models.FileField(_("file"), upload_to="tenants/insurance/%Y/")
    insurer = models.CharField(_("insurer"), max_length=200, blank=True)
    valid_until = models.DateField(_("valid until"))
    uploaded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    PERSONAL_DATA = True

    class Meta:
        verbose_name = _("insurance certificate")
        verbose_name_plural = _("insurance certificates")
        ordering = ["-valid_until"]

    def __str__(self):
        return f"{self.household_id} → {self.valid_until}"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        from backend.estate.models import households_living_in

        return queryset.filter(household_id__in=households_living_in(residences))


class HelpRequest(models.Model):
    """ "Besoin d'aide pour vous connecter ?": a message that reaches the agency's advisors."""

    organisation = models.ForeignKey("estate.Organisation", on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=200)
    contact = models.CharField(_("e-mail or phone"), max_length=254)
    contract_reference = models.CharField(_("contract reference"), max_length=30, blank=True)
    message = models.TextField(_("message"))
    household = models.ForeignKey(
        "estate.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    residence = models.ForeignKey(
        "estate.Residence", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("help request")
        verbose_name_plural = _("help requests")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.created_at:%Y-%m-%d})"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(
            models.Q(residence__in=residences)
            | models.Q(residence__isnull=True, organisation_id=user.organisation_id)
        )


class AuditRecord(models.Model):
    """What was done to an account or a household's data, by whom and why: kept when the
    account itself is anonymised."""

    organisation = models.ForeignKey("estate.Organisation", on_delete=models.CASCADE)
    action = models.CharField(_("action"), max_length=40)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=200)
    account = models.ForeignKey(
        TenantAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit"
    )
    household = models.ForeignKey(
        "estate.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)

    STAFF_ONLY = True

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.action} ({self.at:%Y-%m-%d})"

    @classmethod
    def scope_queryset(cls, user, queryset, residences):
        return queryset.filter(organisation_id=user.organisation_id)
