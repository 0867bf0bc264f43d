from datetime import date, datetime
from typing import Literal

from ninja import Field, Schema


class AnalyseIn(Schema):
    text: str = Field(..., max_length=5000)


class ForcingOut(Schema):
    char: str
    name: str
    count: int
    replacement: str | None


class AnalysisOut(Schema):
    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int
    too_long: bool
    forcing: list[ForcingOut]
    gsm_if_replaced: bool
    segments_if_replaced: int
    replaced_text: str
    cost: str


class AudienceIn(Schema):
    kind: str = Field(
        ...,
        max_length=30,
        description="residence, building, entrance, group, people, or a kind another app registered",
    )
    ids: list[int] = Field(..., min_length=1, max_length=5000)


class TextsIn(Schema):
    sms_body: str = Field("", max_length=5000)
    email_subject: str = Field("", max_length=200)
    email_text: str = Field("", max_length=20000)
    email_html: str = Field("", max_length=50000)


class CampaignIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    purpose: Literal["operational", "information", "commercial"]
    audience: AudienceIn
    texts: TextsIn = Field(
        default_factory=TextsIn,
        description="Leave empty with a template_id: the template's texts are used, in each "
        "recipient's language.",
    )
    delivery: Literal["preferred", "both"] = "preferred"
    template_id: int | None = None
    urgent: bool = False


class ReasonOut(Schema):
    reason: str
    label: str
    count: int
    examples: list[str]


class PreviewOut(Schema):
    recipients: int
    sms: int
    email: int
    left_out: list[ReasonOut]
    example: dict


class CountsOut(Schema):
    total: int
    success: int
    failed: int
    waiting: int
    rate: float | None
    by_status: dict[str, int]


class CampaignOut(Schema):
    id: int
    title: str
    purpose: str
    status: str
    failure: str  # why it could not be prepared (status "failed"), in French
    residence_id: int | None
    author_id: int | None
    created_at: datetime
    counts: CountsOut


class MessageOut(Schema):
    id: int
    campaign_id: int
    person_id: int | None
    residence_id: int | None
    channel: str
    to: str
    status: str
    segments: int
    provider_id: str
    error_code: str
    error_message: str
    needs_review: bool
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessageFilters(Schema):
    campaign_id: int | None = None
    channel: Literal["sms", "email"] | None = None
    status: (
        Literal["queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled"]
        | None
    ) = None
    residence_id: int | None = None
    author_id: int | None = None
    since: date | None = None
    until: date | None = None
    needs_review: bool | None = None


class DecisionIn(Schema):
    decision: Literal["sent", "resend"]


class ResendOut(Schema):
    queued: int


class TemplateOut(Schema):
    id: int
    key: str
    name: str
    purpose: str
    channels: str
    organisation_id: int
    agency_id: int | None
    residence_id: int | None
    languages: list[str]


class TemplatePreviewIn(Schema):
    person_id: int
    language: str | None = Field(None, max_length=5)


class InboundOut(Schema):
    id: int
    from_number: str
    body: str
    kind: str
    person_id: int | None
    residence_id: int | None
    received_at: datetime
    handled_at: datetime | None
