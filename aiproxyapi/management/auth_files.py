"""`/auth-files`: list, upload, download, delete and edit auth records through `Gateway.store`.

Every name passes :func:`checked_auth_name` before the store sees it. Listings never carry a
token; a download returns the record itself, which is its purpose. Changing fields of a record
is limited to routing fields: tokens are written by logins and refreshes only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Response, delete, get, patch, post
from litestar.datastructures import UploadFile

from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import (
    CPA_HEADERS,
    MAX_BODY_BYTES,
    ManagementError,
    MgmtRequest,
    json_response,
    ok,
    read_body,
    read_json,
)
from aiproxyapi.management.auth_listing import describe_record, parse_record
from aiproxyapi.management.auth_names import checked_auth_name
from aiproxyapi.management.context import context_of
from aiproxyapi.management.destinations import check_record_destinations
from storage.base import StoreError

__all__ = [
    "delete_auth_files",
    "download_auth_file",
    "list_auth_files",
    "patch_auth_fields",
    "patch_auth_status",
    "upload_auth_file",
]

# What PATCH /auth-files/fields may change: how a record is routed, never what it proves.
_EDITABLE = frozenset(
    {
        "prefix",
        "proxy_url",
        "priority",
        "weight",
        "note",
        "label",
        "project_id",
        "base_url",
        "excluded_models",
        "model_aliases",
        "disable_cooling",
        "request_retry",
        "headers",
    }
)


def _file_path(gateway: Gateway, name: str) -> Path | None:
    auth_dir = getattr(gateway.store, "auth_dir", None)
    return Path(auth_dir) / name if isinstance(auth_dir, Path) else None


async def _read(gateway: Gateway, name: str) -> bytes:
    try:
        data = await gateway.store.read_auth(name)
    except StoreError as exc:
        raise ManagementError(400, "invalid name", str(exc)) from None
    if data is None:
        raise ManagementError(404, "file not found")
    return data


async def _write(gateway: Gateway, name: str, record: dict[str, Any]) -> None:
    try:
        await gateway.store.write_auth(name, json.dumps(record, indent=2).encode() + b"\n")
    except StoreError as exc:
        raise ManagementError(503, "save_failed", str(exc)) from None


def _validated(data: bytes) -> dict[str, Any]:
    record = parse_record(data)
    if record is None:
        raise ManagementError(400, "invalid auth file", "the file must hold a JSON object")
    if not isinstance(record.get("type"), str) or not record["type"].strip():
        raise ManagementError(400, "invalid auth file", "the record needs a string `type`")
    return record


@get("/auth-files")
async def list_auth_files(request: MgmtRequest) -> Response[bytes]:
    """Every auth record with status, cooldowns, refresh state and counters; no tokens."""
    gateway = context_of(request).gateway
    try:
        records = await gateway.store.list_auth()
    except StoreError as exc:
        raise ManagementError(503, "store unavailable", str(exc)) from None
    recent = gateway.book.snapshot().recent
    files = [
        describe_record(gateway, name, data, _file_path(gateway, name), recent)
        for name, data in sorted(records.items(), key=lambda item: item[0].lower())
        if name.endswith(".json")
    ]
    return json_response({"files": files})


@post("/auth-files", status_code=200)
async def upload_auth_file(request: MgmtRequest) -> Response[bytes]:
    """Store one record: multipart field `file`, or a raw JSON body with `?name=`."""
    gateway = context_of(request).gateway
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            raise ManagementError(411, "length required", "send a Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            raise ManagementError(413, "request_too_large")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ManagementError(400, "missing file", "send the record as multipart field `file`")
        name = checked_auth_name(request.query_params.get("name") or upload.filename)
        data = await upload.read()
    else:
        name = checked_auth_name(request.query_params.get("name"))
        data = await read_body(request)
    record = _validated(data)
    await check_record_destinations(await _previous(gateway, name), record, gateway.runtime.egress)
    await _write(gateway, name, record)
    return ok()


async def _previous(gateway: Gateway, name: str) -> dict[str, Any] | None:
    """The record stored under `name` before this change, if any parses."""
    try:
        data = await gateway.store.read_auth(name)
    except StoreError:
        return None
    return parse_record(data) if data is not None else None


@delete("/auth-files", status_code=200)
async def delete_auth_files(request: MgmtRequest) -> Response[bytes]:
    """Delete one record (`?name=`) or every record (`?all=true`)."""
    gateway = context_of(request).gateway
    try:
        if request.query_params.get("all", "").lower() in ("1", "true", "yes"):
            names = [name for name in await gateway.store.list_auth() if name.endswith(".json")]
            for name in names:
                await gateway.store.delete_auth(name)
            return ok(deleted=len(names))
        name = checked_auth_name(request.query_params.get("name"))
        await _read(gateway, name)
        await gateway.store.delete_auth(name)
    except StoreError as exc:
        raise ManagementError(503, "store unavailable", str(exc)) from None
    return ok()


@get("/auth-files/download")
async def download_auth_file(request: MgmtRequest) -> Response[bytes]:
    """The record's own JSON, as a file."""
    context = context_of(request)
    name = checked_auth_name(request.query_params.get("name"))
    data = await _read(context.gateway, name)
    headers = {**CPA_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="application/json", headers=headers)


@patch("/auth-files/status")
async def patch_auth_status(request: MgmtRequest) -> Response[bytes]:
    """`{name, disabled}`: take a record out of rotation or put it back."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("disabled"), bool):
        raise ManagementError(400, "invalid body", "send {name, disabled: true|false}")
    gateway = context_of(request).gateway
    name = checked_auth_name(body.get("name"))
    async with gateway.accounts.editing(name):
        record = _validated(await _read(gateway, name))
        record["disabled"] = body["disabled"]
        await _write(gateway, name, record)
    return ok(disabled=body["disabled"])


def _apply_field(record: dict[str, Any], field: str, value: Any) -> None:
    head, dot, rest = field.partition(".")
    if head not in _EDITABLE or (dot and head != "headers"):
        raise ManagementError(400, "field not editable", f"{field!r} cannot be changed here")
    if dot:
        headers = record.setdefault("headers", {})
        if not isinstance(headers, dict) or not rest:
            raise ManagementError(400, "invalid field", f"{field!r}")
        if value in (None, ""):
            headers.pop(rest, None)
        else:
            headers[rest] = str(value)
    elif head == "headers" and isinstance(value, dict):
        for key, item in value.items():
            _apply_field(record, f"headers.{key}", item)
    elif value is None:
        record.pop(head, None)
    else:
        record[head] = value


@patch("/auth-files/fields")
async def patch_auth_fields(request: MgmtRequest) -> Response[bytes]:
    """`{name, <field>: value, ...}`: routing fields (dot paths for `headers.X`)."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ManagementError(400, "invalid body", "send {name, field: value, ...}")
    gateway = context_of(request).gateway
    name = checked_auth_name(body.get("name"))
    changes = {key: value for key, value in body.items() if key != "name"}
    if isinstance(changes.get("fields"), dict) and len(changes) == 1:
        changes = changes["fields"]
    if not changes:
        raise ManagementError(400, "invalid body", "no field to change")
    # Under the record's lock: a refresh in flight merges its tokens into this edit, not over it.
    async with gateway.accounts.editing(name):
        record = _validated(await _read(gateway, name))
        before = dict(record)
        for field, value in changes.items():
            _apply_field(record, str(field), value)
        await check_record_destinations(before, record, gateway.runtime.egress)
        await _write(gateway, name, record)
    return ok()
