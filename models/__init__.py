"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.base import Base, UTCDateTime
from models.consent import OPTIONAL_PURPOSES, ConsentEvent, ConsentPurpose
from models.resident import Resident, ResidentStatus

__all__ = [
    "OPTIONAL_PURPOSES",
    "Base",
    "ConsentEvent",
    "ConsentPurpose",
    "Resident",
    "ResidentStatus",
    "UTCDateTime",
]
