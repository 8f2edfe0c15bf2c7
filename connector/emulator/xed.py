"""Schema Registry HTTP details: the `Accept` forms, error bodies and resource versions.

Lookups (`GET /{container}/{resource}/{id}`) need `Accept: application/vnd.adobe.{form}+json;
version=1` (S25); `form` is one of LOOKUP_FORMS. A missing or malformed Accept, or one without a
version, is the documented 400 `XDM-1007-400`; a well-formed one the registry cannot serve (an
unknown form, a major version other than 1) is a 406, whose body Adobe does not document (the
emulator answers in the same error shape, type `XDM-1000-406`). Listings take
`application/vnd.adobe.xed-id+json` or `application/vnd.adobe.xed+json` (no version); anything
else is `XDM-1006-400`. Version 1 always returns the latest minor version.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from connector.emulator import ids
from connector.emulator.http import Response, json_response

XED_PREFIX = "application/vnd.adobe."
LOOKUP_FORMS = ("xed", "xed-full", "xed-notext", "xed-full-notext", "xed-full-desc")
LIST_FORMS = ("xed-id", "xed")
_ACCEPT = re.compile(r"^application/vnd\.adobe\.(xed|xdm)(-[a-z-]+)?\+json\s*(?:;\s*version\s*=\s*([0-9][0-9.]*))?\s*$")
NOT_FOUND_CODES = {"classes": 1010, "mixins": 1011, "schemas": 1012, "datatypes": 1013, "descriptors": 1014}
"""XDM-1012-404 (schemas) and XDM-1010-404 (classes) are documented; the others follow the documented range."""


def xdm_error(status: int, code: int, title: str, detail: str) -> Response:
    """The Schema Registry error body (schema-registry.yaml `errorBasic`, XDM troubleshooting guide)."""
    body = {
        "type": f"http://ns.adobe.com/aep/errors/XDM-{code}-{status}",
        "title": title,
        "status": status,
        "report": {
            "registryRequestId": ids.uuid4(),
            "timestamp": time.strftime("%m-%d-%Y %H:%M:%S", time.gmtime()),
            "detailed-message": detail,
            "sub-errors": [],
        },
        "detail": detail,
    }
    return json_response(status, body)


def not_found(segment: str, item_id: str) -> Response:
    code = NOT_FOUND_CODES.get(segment, 1012)
    return xdm_error(404, code, "Resource not found", f"Requested resource {item_id} with version 1 is not found")


@dataclass(frozen=True, slots=True)
class Form:
    """The representation a lookup asked for."""

    full: bool
    strip: tuple[str, ...] = ()


def lookup_form(accept: str | None) -> Form | Response:
    """The lookup form of an Accept header, or the 400/406 response."""
    value = (accept or "").strip()
    m = _ACCEPT.match(value)
    if m is None or m.group(3) is None:
        detail = (
            f"The supplied Accept header is not valid: {value or '(none)'} - A valid Accept value should look like "
            "application/vnd.adobe.'{xed|xdm'}+json; version=1 (Version should be specified)"
        )
        return xdm_error(400, 1007, "Accept header invalid", detail)
    form = "xed" + (m.group(2) or "")
    major = m.group(3).split(".")[0]
    if form not in LOOKUP_FORMS or major != "1":
        detail = f"The supplied Accept format/version is not available for this resource: {value}"
        return xdm_error(406, 1000, "Not Acceptable", detail)
    strip = ("title", "description") if form.endswith("-notext") else ("title",) if form.endswith("-desc") else ()
    return Form(full=form.startswith("xed-full"), strip=strip)


def list_form(accept: str | None) -> str | Response:
    """`xed-id` (summaries) or `xed` (whole documents) for a listing, or the 400 response."""
    value = (accept or "").strip()
    for form in LIST_FORMS:
        if value == f"{XED_PREFIX}{form}+json":
            return form
    detail = (
        f"The supplied Accept header is not valid: {value or '(none)'} - A valid Accept value should look like "
        "application/vnd.adobe.{xed|xdm}+json"
    )
    return xdm_error(400, 1006, "Accept header invalid", detail)


def bump(version: Any) -> str:
    """The next minor version: `1.0` -> `1.1`, `1` -> `1.1`."""
    major, _, minor = str(version or "1").partition(".")
    return f"{major or '1'}.{int(minor or 0) + 1}"
