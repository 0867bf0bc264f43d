from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ninja import Field, Schema


class ItemOut(Schema):
    id: int
    label: str
    weight: int
    critical: bool


class ZoneOut(Schema):
    id: int
    name: str
    items: list[ItemOut]


class GridOut(Schema):
    version_id: int
    grid_id: int
    name: str
    number: int
    threshold: int
    zones: list[ZoneOut]


class VisitOut(Schema):
    id: UUID
    residence_id: int
    entrance_id: int | None
    grid_version_id: int
    contract_id: int | None
    agent_id: int | None
    planned_for: date | None
    status: str
    late: bool = Field(alias="is_late")  # read from the model's property
    joint: bool
    started_at: datetime | None
    finished_at: datetime | None
    score: Decimal | None
    passed: bool | None
    critical_failed: bool


class StartIn(Schema):
    residence_id: int | None = None
    entrance_id: int | None = None
    joint: bool = False
    category: str = Field("cleaning", max_length=30)  # a WorkCategory value: lift, green_spaces...


class AnswerIn(Schema):
    id: UUID
    item_id: int
    value: Literal["compliant", "minor", "major", "na"]
    comment: str = Field("", max_length=2000)
    cause: Literal["", "service", "damage"] = ""


class AnswersIn(Schema):
    answers: list[AnswerIn] = Field(..., max_length=500)


class AnswerOut(Schema):
    id: UUID
    item_id: int
    value: str
    cause: str
    comment: str


class PhotoOut(Schema):
    id: UUID
    visit_id: UUID | None
    answer_id: UUID | None
    width: int
    height: int


class ReworkOut(Schema):
    id: UUID
    visit_id: UUID
    answer_id: UUID
    residence_id: int
    provider_id: int
    status: str
    requested_at: datetime
    deadline: datetime
    done_at: datetime | None
    provider_comment: str
    checked_at: datetime | None
    late: bool = Field(alias="is_late")  # read from the model's property


class RecheckIn(Schema):
    lifted: bool
    comment: str = Field("", max_length=2000)


class PenaltyOut(Schema):
    id: int
    rework_id: UUID
    residence_id: int
    provider_id: int
    reason: str
    days_late: int
    amount: Decimal
    status: str
    contest_until: datetime
    contest_text: str
    decision_reason: str


class ContestIn(Schema):
    text: str = Field(..., min_length=1, max_length=4000)


class DecisionIn(Schema):
    confirm: bool
    reason: str = Field(..., min_length=1, max_length=2000)


class InformIn(Schema):
    place: Literal["entrance", "building"] = "entrance"


class RateOut(Schema):
    key: int | None
    label: str
    planned: int
    planned_done: int
    done: int
    visit_rate: Decimal | None
    average_score: Decimal | None
    defect_rate: Decimal | None
    reworks: int
    rework_rate: Decimal | None
    lead_time_hours: Decimal | None
    on_time_rate: Decimal | None
    penalties: Decimal
