"""The one scoping function: every query for data a user may read goes through scoped().

Scope is a set of residences, decided by the user's role:

| role                | residences it sees                                          |
| ------------------- | ----------------------------------------------------------- |
| superuser           | all                                                         |
| admin               | every residence of their organisation                       |
| manager, advisor    | the residences of their agencies                            |
| agent               | the residences of their sectors                             |
| contractor          | the residences that an active contract of their provider covers |
| anyone else         | none                                                        |

Every model served to users declares SCOPE, the lookup from it to a Residence ("pk" for the
residence itself), or a classmethod scope_queryset(user, queryset, residences) for data that is
not tied to one residence (a household is seen by the staff of the residences where it lives,
or left less than three months ago). Models that hold tenants' personal data (PERSONAL_DATA) or internal
organisation (STAFF_ONLY) are hidden from contractors, who see tenants only through their own
work orders. Models with PROVIDER_SCOPE (a lookup to the Provider) show a contractor its own
provider's rows only, never a competitor's at the same site.

Objects outside the scope do not exist for the user: views answer 404, never 403.
"""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from backend.accounts.models import Role
from backend.estate.models import ContractSite, Residence

STAFF_ROLES = frozenset({Role.AGENT, Role.ADVISOR, Role.MANAGER, Role.ADMIN})


def require_role(user, roles) -> None:
    """PermissionDenied unless the user is logged in and a superuser or of one of `roles`."""
    if not (user.is_authenticated and (user.is_superuser or user.role in roles)):
        raise PermissionDenied


def _is_known(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_residences(user) -> QuerySet:
    """The residences this user may see (a queryset, usable as a subquery)."""
    residences = Residence.objects.all()
    if not _is_known(user):
        return residences.none()
    if user.is_superuser:
        return residences
    role = user.role
    if role == Role.ADMIN:
        return residences.filter(organisation_id=user.organisation_id)
    if role in (Role.MANAGER, Role.ADVISOR):
        return residences.filter(agency__staff=user)
    if role == Role.AGENT:
        return residences.filter(sectors__agents=user).distinct()
    if role == Role.CONTRACTOR and user.provider_id:
        # Through ContractSite, whose contract is single-valued: every condition applies to
        # the same contract (chained filters on Residence would join a contract each).
        today = timezone.localdate()
        sites = (
            ContractSite.objects.filter(
                contract__provider_id=user.provider_id, contract__start_date__lte=today
            )
            .filter(Q(contract__end_date__isnull=True) | Q(contract__end_date__gte=today))
            .values("residence_id")
        )
        return residences.filter(pk__in=sites)
    return residences.none()


def _lookup(model: type[Model]) -> str | None:
    lookup = getattr(model, "SCOPE", None)
    if lookup is None and not hasattr(model, "scope_queryset"):
        raise ImproperlyConfigured(
            f"{model.__name__} declares neither SCOPE nor scope_queryset: it cannot be served."
        )
    return lookup


def _to_one(model: type[Model], lookup: str) -> bool:
    """Whether every step of `lookup` follows a single-valued relation (no repeated rows)."""
    for name in lookup.split("__"):
        if name == "pk":
            return True
        field = model._meta.get_field(name)
        if not field.is_relation:
            return True
        if not (field.many_to_one or field.one_to_one):
            return False
        model = field.related_model
    return True


def scoped(user, queryset: QuerySet | type[Model]) -> QuerySet:
    """`queryset` narrowed to what `user` may see. The only way pages and API read data."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    model = queryset.model
    lookup = _lookup(model)
    if not _is_known(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    if user.role == Role.CONTRACTOR:
        if getattr(model, "PERSONAL_DATA", False) or getattr(model, "STAFF_ONLY", False):
            return queryset.none()
        provider_lookup = getattr(model, "PROVIDER_SCOPE", None)
        if provider_lookup is not None:
            if _to_one(model, provider_lookup):
                return queryset.filter(**{provider_lookup: user.provider_id})
            # Through a to-many relation (a request's work orders): a subquery, no repeated rows.
            matching = model._base_manager.filter(**{provider_lookup: user.provider_id})
            return queryset.filter(pk__in=matching.values("pk"))
    elif user.role not in STAFF_ROLES:
        return queryset.none()
    residences = visible_residences(user).values("pk")
    if lookup is None:
        # Data not tied to one residence (households, organisation-wide templates...) says
        # itself how the residence scope applies to it.
        return model.scope_queryset(user, queryset, residences)
    if lookup == "pk":
        return queryset.filter(pk__in=residences)
    field = model._meta.get_field(lookup.split("__")[0])
    if "__" not in lookup and field.many_to_one:
        return queryset.filter(**{f"{lookup}__in": residences})
    # A lookup through a to-many relation would repeat rows: filter on a subquery instead.
    matching = model._base_manager.filter(**{f"{lookup}__in": residences}).values("pk")
    return queryset.filter(pk__in=matching)


def get_scoped_or_404(user, queryset: QuerySet | type[Model], **lookup) -> Model:
    queryset = scoped(user, queryset)
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None
    except (ValueError, TypeError):
        # A malformed id ("abc" for an integer key) is as unknown as a missing one.
        raise Http404 from None


def may_see_personal_data(user) -> bool:
    return _is_known(user) and (user.is_superuser or user.role in STAFF_ROLES)
