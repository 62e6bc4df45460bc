"""Subject keys: the state key of an account, device or IP, "KIND:id"."""

from __future__ import annotations

from streams.model import SubjectKind

_KEY_PREFIX = {kind: f"{kind.value}:" for kind in SubjectKind}
_ACCOUNT, _DEVICE, _IP, _GROUP = (
    _KEY_PREFIX[k]
    for k in (SubjectKind.ACCOUNT, SubjectKind.DEVICE, SubjectKind.IP, SubjectKind.GROUP)
)


def subject_key(kind: SubjectKind, subject_id: str) -> str:
    """A subject's state key, "KIND:id": one subject's whole history lives under it."""
    return _KEY_PREFIX[kind] + subject_id


def account_key(account_id: str) -> str:
    """`subject_key(SubjectKind.ACCOUNT, account_id)`, for routing every event cheaply."""
    return _ACCOUNT + account_id


def device_key(device_hash: str) -> str:
    return _DEVICE + device_hash


def ip_key(ip_hash: str) -> str:
    return _IP + ip_hash


def group_key(group_id: str) -> str:
    return _GROUP + group_id
