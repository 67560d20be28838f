"""The staff vocabularies: roles, and a member's status with its transition table.

A member is never deleted (the audit log names them); an admin deactivates them, which ends
their sessions at once, and may reactivate them later.
"""

from __future__ import annotations

from enum import StrEnum

from portal.domain.core.states import Transitions


class StaffRole(StrEnum):
    ADMIN = "admin"            # staff, teams and routing; everything else too
    SUPERVISOR = "supervisor"  # approves credits above the analysts' limit, refunds, reports
    ANALYST = "analyst"        # works disputes, credits within a small limit
    COLLECTOR = "collector"    # follows up on payments and plans; reads disputes


class StaffStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


STAFF_STATUS_TRANSITIONS = Transitions("staff member", StaffStatus, {
    StaffStatus.ACTIVE: {StaffStatus.DEACTIVATED},
    StaffStatus.DEACTIVATED: {StaffStatus.ACTIVE},
})

ROLE_LABELS = {
    StaffRole.ADMIN: "Admin",
    StaffRole.SUPERVISOR: "Supervisor",
    StaffRole.ANALYST: "Dispute analyst",
    StaffRole.COLLECTOR: "Collector",
}
