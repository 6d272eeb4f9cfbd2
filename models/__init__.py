"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.base import Base, UTCDateTime
from models.consent import OPTIONAL_PURPOSES, ConsentEvent, ConsentPurpose
from models.delivery import Delivery, DeliveryStatus
from models.resident import Resident, ResidentStatus

__all__ = [
    "OPTIONAL_PURPOSES",
    "Base",
    "ConsentEvent",
    "ConsentPurpose",
    "Delivery",
    "DeliveryStatus",
    "Resident",
    "ResidentStatus",
    "UTCDateTime",
]
