"""Who reads the auditors' screens and reports: auditors, and admins."""

from casetracker.accounts.roles import Role

REPORT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
