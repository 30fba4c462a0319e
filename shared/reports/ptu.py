"""Provisioned throughput (PTU): which deployments are paid by the hour, from `LEDGER_PTU_FILE`.

    {"deployments": [{"deployment": "chat-ptu", "backend": null, "ptu": 100, "hourlyUsd": 100.0,
                      "from": "2026-01-01T00:00:00Z", "to": null}]}

A call is provisioned when its deployment is an entry's `deployment` (exactly, as the call names it), its backend
is the entry's `backend` (null: any backend) and its time is in [from, to) (`to` null: still provisioned).
`from` and `to` are whole UTC hours: Azure bills provisioned deployments by the hour, and a half-provisioned hour
would have no price. Two entries that could both claim one call (same deployment, backends equal or one null,
windows overlapping) are refused: a call's hour would be paid twice.

The file is read once at start (`shared.app.wiring`); a bad file stops the app with a message naming the file,
the entry and the problem. Costs are applied when a report is read (`ptu_costs`), so an edit changes past reports.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.app.settings import SettingsError
from shared.store.times import hour_of, naive_utc

_KEYS = {"deployment", "backend", "ptu", "hourlyUsd", "from", "to"}
_MAX_LENGTH = 256  # the store's name columns
PTU_FIGURE_NAMES = ("ptuCostUsd", "chargebackUsd")  # what rows gain when LEDGER_PTU_FILE is set


class PtuFileError(SettingsError):
    """LEDGER_PTU_FILE cannot be used; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class Provisioned:
    """One entry of the file: a deployment (on one backend, or any) paid `hourly_usd` an hour in [start, end)."""

    deployment: str
    backend: str | None
    ptu: int
    hourly_usd: float
    start: datetime  # naive UTC, a whole hour
    end: datetime | None  # naive UTC, a whole hour; None: still provisioned

    def hours_in(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """[first, last) of the provisioned hours whose start is within [start, end) (naive UTC), or None."""
        first = max(ceil_hour(start), self.start)
        last = min(ceil_hour(end), self.end) if self.end is not None else ceil_hour(end)
        return (first, last) if first < last else None

    def calls_in(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """[from, to) of the provisioned calls within [start, end) (naive UTC), or None."""
        first = max(start, self.start)
        last = min(end, self.end) if self.end is not None else end
        return (first, last) if first < last else None


@dataclass(frozen=True)
class PtuPlan:
    source: str  # the file, as LEDGER_PTU_FILE names it
    entries: tuple[Provisioned, ...]


def ceil_hour(moment: datetime) -> datetime:
    """The first whole hour at or after `moment`."""
    floor = hour_of(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def load_ptu_plan(path: Path | None) -> PtuPlan | None:
    """The plan of `LEDGER_PTU_FILE`, or None when the setting is empty."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PtuFileError(f"LEDGER_PTU_FILE {path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PtuFileError(f"LEDGER_PTU_FILE {path}: is not JSON ({exc})") from None
    return parse_ptu_plan(data, str(path))


def parse_ptu_plan(data: Any, source: str) -> PtuPlan:
    prefix = f"LEDGER_PTU_FILE {source}"
    if not isinstance(data, dict) or set(data) != {"deployments"} or not isinstance(data["deployments"], list):
        raise PtuFileError(f'{prefix}: must be an object {{"deployments": [...]}} and nothing else')
    entries = []
    for index, raw in enumerate(data["deployments"]):
        where = f"{prefix}: deployments[{index}]"
        if isinstance(raw, dict) and isinstance(raw.get("deployment"), str):
            where += f" ({raw['deployment']!r})"
        try:
            entries.append(_entry(raw))
        except ValueError as exc:
            raise PtuFileError(f"{where}: {exc}") from None
    for later, entry in enumerate(entries):
        for earlier in range(later):
            if _overlap(entries[earlier], entry):
                raise PtuFileError(
                    f"{prefix}: deployments[{later}] ({entry.deployment!r}) overlaps deployments[{earlier}]: "
                    "the same deployment on the same backend (or any) in overlapping hours would be paid twice"
                )
    return PtuPlan(source, tuple(entries))


def _entry(raw: Any) -> Provisioned:
    if not isinstance(raw, dict):
        raise ValueError("must be an object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    missing = sorted(k for k in ("deployment", "ptu", "hourlyUsd", "from") if k not in raw)
    if missing:
        raise ValueError(f"{missing[0]} is missing")
    deployment, backend = raw["deployment"], raw.get("backend")
    if not isinstance(deployment, str) or not deployment.strip() or len(deployment) > _MAX_LENGTH:
        raise ValueError(f"deployment must be a deployment name (1 to {_MAX_LENGTH} characters)")
    if backend is not None and (not isinstance(backend, str) or not backend.strip() or len(backend) > _MAX_LENGTH):
        raise ValueError(f"backend must be a backend id (1 to {_MAX_LENGTH} characters) or null for any backend")
    ptu = raw["ptu"]
    if isinstance(ptu, bool) or not isinstance(ptu, int) or ptu < 1:
        raise ValueError(f"ptu must be a whole number of provisioned throughput units, at least 1, got {ptu!r}")
    hourly = raw["hourlyUsd"]
    if isinstance(hourly, bool) or not isinstance(hourly, (int, float)) or not math.isfinite(hourly) or hourly < 0:
        raise ValueError(f"hourlyUsd must be a number of dollars, 0 or more, got {hourly!r}")
    start = _hour(raw["from"], "from")
    end = None if raw.get("to") is None else _hour(raw["to"], "to")
    if end is not None and end <= start:
        raise ValueError("to must be after from")
    return Provisioned(deployment, backend, ptu, float(hourly), start, end)


def _hour(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 time such as 2026-01-01T00:00:00Z, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 time such as 2026-01-01T00:00:00Z, got {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must carry its zone (Z for UTC), got {value!r}")
    moment = naive_utc(moment)
    if moment != hour_of(moment):
        raise ValueError(
            f"{name} must be a whole UTC hour (provisioned deployments are billed by the hour), got {value!r}"
        )
    return moment


def _overlap(a: Provisioned, b: Provisioned) -> bool:
    if a.deployment != b.deployment or (a.backend is not None and b.backend is not None and a.backend != b.backend):
        return False
    return (a.end is None or b.start < a.end) and (b.end is None or a.start < b.end)
