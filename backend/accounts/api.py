from ninja import Router, Schema

from backend.accounts.scoping import may_see_personal_data, visible_residences

router = Router()


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    is_superuser: bool
    organisation_id: int | None
    provider_id: int | None
    residences_count: int
    sees_personal_data: bool


@router.get("", response=MeOut)
def me(request):
    """Who the caller is and how far their scope reaches."""
    user = request.auth
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "is_superuser": user.is_superuser,
        "organisation_id": user.organisation_id,
        "provider_id": user.provider_id,
        "residences_count": visible_residences(user).count(),
        "sees_personal_data": may_see_personal_data(user),
    }
