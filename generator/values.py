"""Checks of the values a caller personalises code with: light, for the fast path."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_PRINTABLE_ASCII = re.compile(r"[ -~]*")

#: Longest site id, API key or base URL accepted (from the spec or a caller). Real ones
#: are far shorter; a literal of 64 KiB is more than javac and kotlinc take.
MAX_VALUE = 512


def check_base_url(url: str) -> str | None:
    """Return why ``url`` is not a usable base URL, or None when it is."""
    if len(url) > MAX_VALUE:
        return f"is {len(url)} characters long; at most {MAX_VALUE}"
    if any(c <= " " or c > "~" or c in "\"'\\<>{}|^`" for c in url):
        return "must contain only printable ASCII without quotes or spaces"
    if "?" in url or "#" in url or url.endswith("/"):
        return "must have no query, fragment or trailing slash"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "is not a valid URL (host or port)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return None


def check_site_id(value: str) -> str | None:
    """Why ``value`` cannot be a site id, or None.

    It travels in the JSON body and reaches code only as a literal: any text goes.
    """
    if value == "":
        return "must not be empty"
    if len(value) > MAX_VALUE:
        return f"is {len(value)} characters long; at most {MAX_VALUE}"
    return None


def check_api_key(value: str) -> str | None:
    """Why ``value`` cannot be an API key, or None: it travels as an HTTP header value."""
    if value == "":
        return "must not be empty"
    if len(value) > MAX_VALUE:
        return f"is {len(value)} characters long; at most {MAX_VALUE}"
    if not _PRINTABLE_ASCII.fullmatch(value) or value != value.strip():
        return "must be printable ASCII without leading or trailing spaces (it is an HTTP header)"
    return None


__all__ = ["MAX_VALUE", "check_api_key", "check_base_url", "check_site_id"]
