"""Checks for the fields of sync messages (orkiosk.sync.codec): each returns the value or raises
ValueError saying what the value must be."""

from __future__ import annotations

import re

MAGIC = b"orkiosk/1"
MAX_HEADER = 16 << 10
CHUNK_MAX = 1 << 20
MAX_FILES = 256
MAX_FILE_SIZE = 512 << 20
MAX_PACKAGE = 1 << 30
MAX_TEXT = 400
OUTCOMES = ("shown", "confirm", "refused")
POINT_KINDS = ("view", "trajectory", "highlight")
MAX_TARGET = 64

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SHA = re.compile(r"[0-9a-f]{64}")
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


# ---------------------------------------------------------------- field checks
def _room(v):
    if not isinstance(v, str) or not _WORD.fullmatch(v):
        raise ValueError("must be a short word (letters, digits, '.', '_', '-')")
    return v


_name = _room


def _sha(v):
    if not isinstance(v, str) or not _SHA.fullmatch(v):
        raise ValueError("must be 64 lower-case hex digits")
    return v


def _opt_sha(v):
    return v if v == "" else _sha(v)


def _path(v):
    if not isinstance(v, str) or len(v) > 255:
        raise ValueError("must be a relative path of at most 255 characters")
    parts = v.split("/")
    if len(parts) > 4 or not all(_PATH_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise ValueError("must be a plain relative path inside the package")
    return v


def _int(lo, hi):
    def check(v):
        if type(v) is not int or not lo <= v <= hi:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return v

    return check


def _text(v):
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise ValueError(f"must be text of at most {MAX_TEXT} characters")
    return v


def _outcome(v):
    if v not in OUTCOMES:
        raise ValueError(f"must be one of {', '.join(OUTCOMES)}")
    return v


def _point_kind(v):
    if v not in POINT_KINDS:
        raise ValueError(f"must be one of {', '.join(POINT_KINDS)}")
    return v


def _target(v):
    if not isinstance(v, str) or not 0 < len(v) <= MAX_TARGET or not v.isprintable():
        raise ValueError(f"must be a printable name of 1 to {MAX_TARGET} characters")
    return v


def _flag(v):
    if type(v) is not bool:
        raise ValueError("must be true or false")
    return v


def _files(v):
    """[[path, size], ...]: unique paths, bounded count and sizes -> tuple of (path, size)."""
    if not isinstance(v, list) or len(v) > MAX_FILES:
        raise ValueError(f"must be a list of at most {MAX_FILES} files")
    out, seen, total = [], set(), 0
    for item in v:
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError("each file must be [path, size]")
        path, size = _path(item[0]), _int(0, MAX_FILE_SIZE)(item[1])
        if path in seen:
            raise ValueError(f"lists {path} twice")
        seen.add(path)
        total += size
        out.append((path, size))
    if total > MAX_PACKAGE:
        raise ValueError(f"adds up to more than {MAX_PACKAGE >> 20} MiB")
    return tuple(out)


def _names(v):
    if not isinstance(v, list) or len(v) > 1000:
        raise ValueError("must be a list of at most 1000 names")
    return tuple(_name(x) for x in v)


_VERSION = _int(0, 2**31 - 1)
_OFFSET = _int(0, MAX_FILE_SIZE)
_LENGTH = _int(1, CHUNK_MAX)
_CASE = _text
