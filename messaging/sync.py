"""What the agents' phones keep of messaging (docs/sync.md): the message templates they may
use, with their language variants (texts only: the phone shows and fills them)."""

from backend.sync import records
from messaging.models import Template, TemplateVariant


def serialize_template(t: Template) -> dict:
    return {
        "key": t.key,
        "name": t.name,
        "purpose": t.purpose,
        "channels": t.channels,
        "agency": t.agency_id,
        "residence": t.residence_id,
        "variants": [
            {"language": v.language, "sms": v.sms_body, "subject": v.email_subject}
            for v in t.variants.all()
        ],
    }


def register() -> None:
    records.register(
        records.RecordType(
            kind="template",
            model=Template,
            residence=None,  # organisation, agency and residence levels: scoped() picks them
            organisation=lambda t: t.organisation_id,
            serialize=serialize_template,
            keep=lambda qs: qs.filter(is_active=True).prefetch_related("variants"),
            watch=(
                (
                    TemplateVariant,
                    lambda v: [(v.template_id, None, v.template.organisation_id)],
                ),
            ),
        )
    )
