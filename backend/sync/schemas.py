from typing import Any

from ninja import Field, Schema


class LoginIn(Schema):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=200)


class RecordOut(Schema):
    t: str
    id: str
    r: int | None
    d: dict[str, Any]


class DeletedOut(Schema):
    t: str
    id: str


class PullOut(Schema):
    cursor: str
    more: bool
    reset: bool
    records: list[RecordOut]
    deleted: list[DeletedOut]
    dropped_residences: list[int]
    scope: list[int]


class MutationIn(Schema):
    id: str = Field(..., max_length=64)
    type: str = Field(..., max_length=40)
    record: str = Field(..., max_length=64)
    author: int | None = None
    data: dict[str, Any] = {}


class PushIn(Schema):
    mutations: list[MutationIn] = Field(..., max_length=100)


class PushOut(Schema):
    answers: list[dict[str, Any]]
