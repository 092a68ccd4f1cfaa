"""Who may use which route with which method: the one table.

Every URL pattern of the project is named here, by its URL name, with the roles allowed for each
HTTP method. A route or method missing from the table is refused to everyone (fail closed), and
the test suite walks every URL pattern and every OpenAPI operation as every role against this
table, so a new route without a policy fails the tests.

The API (`permissions.RolePermission`), the pages (`permissions.RoutePolicyMiddleware`) and the
admin (`admin_base.RoleAdminMixin`) all read it. It says who may use a route at all; which rows a
user sees is the job of each model's `visible_to` (a row of another facility is a 404).
"""

from collections.abc import Mapping

from .roles import Role

EVERYONE = frozenset(Role)  # anonymous too
SIGNED_IN = frozenset({Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.AUDITOR, Role.ADMIN})
MANAGERS = frozenset({Role.COORDINATOR, Role.ADMIN})  # register cases, move batches
CARE = frozenset({Role.COORDINATOR, Role.HOSPITAL_STAFF, Role.ADMIN})  # report readiness
AUDITORS = frozenset({Role.AUDITOR, Role.ADMIN})
# Everyone who sees every facility: returnees belong to none.
READERS = frozenset({Role.COORDINATOR, Role.AUDITOR, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
NOBODY: frozenset[Role] = frozenset()

Rule = Mapping[str, frozenset[Role]]  # HTTP method -> roles

# HEAD and OPTIONS are reads: they follow GET.
READ_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


def read(roles: frozenset[Role]) -> Rule:
    return {"GET": roles}


def read_write(read_roles: frozenset[Role], write_roles: frozenset[Role], *methods: str) -> Rule:
    return {"GET": read_roles, **dict.fromkeys(methods, write_roles)}


_TRANSITIONS = ("prepare", "reopen", "submit", "clear", "depart", "cross", "cancel", "reschedule")
_REPORTS = (
    "cancellations",
    "daily",
    "cancellation-rate",
    "cancellation-reasons",
    "referral-to-crossing",
    "deaths",
    "bumped",
    "batch-timeline",
    "patient-journey",
)

API_ROUTES: dict[str, Rule] = {
    # The credentials in the body are the authentication.
    "api-token": {"POST": EVERYONE},
    "schema": read(SIGNED_IN),
    "api-docs": read(SIGNED_IN),
    "api-redoc": read(SIGNED_IN),
    # Facilities: every signed-in role reads them; only admins add and change them.
    "facility-list": read_write(SIGNED_IN, ADMINS, "POST"),
    "facility-detail": read_write(SIGNED_IN, ADMINS, "PATCH"),
    "event-list": read(SIGNED_IN),
    "event-detail": read(SIGNED_IN),
    # Blanking a free text of the audit log (casetracker/audit/redaction.py): admins only.
    "event-redact": {"POST": ADMINS},
    # Everyone's own inbox: marking a notification read changes no case data.
    "notification-list": read(SIGNED_IN),
    "notification-detail": read(SIGNED_IN),
    "notification-unread-count": read(SIGNED_IN),
    "notification-read": {"POST": SIGNED_IN},
    "notification-read-all": {"POST": SIGNED_IN},
    "notification-retry": {"POST": MANAGERS},
    "patient-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    "patient-detail": read_write(SIGNED_IN, MANAGERS, "PATCH"),
    "patient-search": {"POST": SIGNED_IN},  # a national ID goes in the body, never the URL
    "patient-queue-export": read(SIGNED_IN),  # scoped as the queue page
    "patient-readiness": read_write(SIGNED_IN, CARE, "POST"),
    "patient-set-status": {"POST": MANAGERS},
    "companion-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    "companion-detail": read_write(SIGNED_IN, MANAGERS, "PATCH"),
    "referral-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    "referral-detail": read(SIGNED_IN),
    "referral-decision": {"POST": MANAGERS},
    "returnee-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    "returnee-detail": read(SIGNED_IN),
    "returnee-withdraw": {"POST": MANAGERS},
    "batch-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    "batch-detail": read(SIGNED_IN),
    "batch-proposal": read(MANAGERS),  # the batch builder's proposal (batches/proposal/)
    **{f"batch-{name}": {"POST": MANAGERS} for name in _TRANSITIONS},
    "batch-members": read_write(SIGNED_IN, MANAGERS, "POST"),
    "batch-manifest-export": read(SIGNED_IN),  # as the printed manifest
    "batch-member": read_write(SIGNED_IN, MANAGERS, "DELETE"),
    "batch-clearance": {"POST": MANAGERS},
    "batch-bulk-clearance": {"POST": MANAGERS},
    # What a party said later about a batch or its cancellation (batches/services/statements.py).
    "batch-statements": read_write(SIGNED_IN, MANAGERS, "POST"),
    "quota-list": read_write(SIGNED_IN, MANAGERS, "POST"),
    **{f"report-{name}": read(AUDITORS) for name in _REPORTS},
}

PAGE_ROUTES: dict[str, Rule] = {
    "home": read(EVERYONE),
    "set_language": {"GET": EVERYONE, "POST": EVERYONE},
    # The probes of load balancers and monitoring (casetracker/health.py): no personal data.
    "healthz": read(EVERYONE),
    "readyz": read(EVERYONE),
    "notifications:inbox": read(SIGNED_IN),
    "notifications:mark-read": {"POST": SIGNED_IN},
    "notifications:mark-all-read": {"POST": SIGNED_IN},
    **{
        f"reports:{name}": read(AUDITORS)
        for name in ("index", "cancellations", "overview", "report", "batch", "patient")
    },
    # Field pages (patients/urls.py, batches/urls.py). The queues take a name or a reference
    # to search for in a POST body, never in the URL; rows are scoped by `visible_to`.
    "patients:queue": read_write(SIGNED_IN, SIGNED_IN, "POST"),
    # The waiting queue as a file, scoped as the page (patients/imports/queue_export.py).
    "patients:queue-export": read(SIGNED_IN),
    "patients:returnees": read_write(READERS, READERS, "POST"),
    "patients:ward": read(CARE),
    "patients:register": read_write(MANAGERS, MANAGERS, "POST"),
    # Lists of cases from spreadsheets (patients/views/imports.py): a pending upload is its
    # uploader's alone (`PendingImport.objects.visible_to`).
    "patients:import-cases": read_write(MANAGERS, MANAGERS, "POST"),
    "patients:import-template": read(MANAGERS),
    "patients:import-preview": read(MANAGERS),
    **{f"patients:import-{name}": {"POST": MANAGERS} for name in ("check", "confirm", "discard")},
    "patients:detail": read(SIGNED_IN),
    "patients:readiness": {"POST": CARE},
    "patients:companion-add": read_write(MANAGERS, MANAGERS, "POST"),
    "patients:referral-add": read_write(MANAGERS, MANAGERS, "POST"),
    "patients:referral-decide": {"POST": MANAGERS},
    "patients:status": read_write(MANAGERS, MANAGERS, "POST"),
    "batches:today": read(MANAGERS),
    "batches:builder": read_write(MANAGERS, MANAGERS, "POST"),
    "batches:detail": read(SIGNED_IN),
    "batches:members": {"POST": MANAGERS},
    "batches:clearance": {"POST": MANAGERS},
    # A clearance list from a spreadsheet (batches/views/clearance_list.py).
    "batches:clearance-list": read_write(MANAGERS, MANAGERS, "POST"),
    "batches:clearance-list-preview": read(MANAGERS),
    "batches:clearance-list-confirm": {"POST": MANAGERS},
    "batches:clearance-list-discard": {"POST": MANAGERS},
    "batches:transition": read_write(MANAGERS, MANAGERS, "POST"),
    "batches:vehicles": read_write(MANAGERS, MANAGERS, "POST"),
    "batches:statement": read_write(MANAGERS, MANAGERS, "POST"),
    # Printed manifests: full ID numbers for coordinators and admins only (batches/manifest.py).
    "batches:manifest-pdf": read(SIGNED_IN),
    "batches:vehicle-manifest-pdf": read(SIGNED_IN),
    "batches:manifest-export": read(SIGNED_IN),  # the manifest as CSV or XLSX, the same rule
    # Two-factor enrolment and verification: every signed-in account, for itself.
    **{
        f"account:{name}": {"GET": SIGNED_IN, "POST": SIGNED_IN}
        for name in ("setup", "verify", "backup-codes")
    },
    "account:sign-out": {"POST": EVERYONE},
    # The admin's own pages; its model pages follow ADMIN_MODELS below.
    "admin:login": {"GET": EVERYONE, "POST": EVERYONE},
    "admin:logout": {"POST": EVERYONE},
    "admin:password_change": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "admin:password_change_done": read(SIGNED_IN),
    "admin:index": read(SIGNED_IN),
    "admin:app_list": read(SIGNED_IN),
    "admin:jsi18n": read(SIGNED_IN),
    # Each source field checks its own model's view permission and `visible_to`.
    "admin:autocomplete": read(SIGNED_IN),
    "admin:view_on_site": read(SIGNED_IN),
    # `<object_id>/` redirects to the change page, which is checked in turn; unknown admin
    # paths answer 404 after sign-in.
    "admin:django.views.generic.base.RedirectView": read(SIGNED_IN),
    "admin:django.contrib.admin.sites.catch_all_view": read(SIGNED_IN),
    "admin:batches_batch_transition": read_write(MANAGERS, MANAGERS, "POST"),
    # Blanking the free text of an audit event, with a reason (casetracker/audit/redaction.py).
    "admin:audit_event_redact": read_write(ADMINS, ADMINS, "POST"),
    # Finding a case by national ID or name: a POST form (neither ends up in a URL), every
    # search in the access log.
    "admin:patients_patient_find": read_write(SIGNED_IN, SIGNED_IN, "POST"),
    "admin:auth_user_password_change": read_write(ADMINS, ADMINS, "POST"),
}


def model_rule(
    view: frozenset[Role],
    add: frozenset[Role] = NOBODY,
    change: frozenset[Role] = NOBODY,
    delete: frozenset[Role] = NOBODY,
    actions: frozenset[Role] | None = None,
) -> dict[str, frozenset[Role]]:
    """`actions` (a POST on the list) defaults to the roles that may change."""
    return {
        "view": view,
        "add": add,
        "change": change,
        "delete": delete,
        "actions": change if actions is None else actions,
    }


# Admin model pages, by model label. Nothing about a case or a batch is ever deleted.
ADMIN_MODELS: dict[str, dict[str, frozenset[Role]]] = {
    "accounts.facility": model_rule(SIGNED_IN, add=ADMINS, change=ADMINS),
    "accounts.user": model_rule(ADMINS, add=ADMINS, change=ADMINS, delete=ADMINS),
    "auth.group": model_rule(ADMINS, add=ADMINS, change=ADMINS, delete=ADMINS),
    "authtoken.tokenproxy": model_rule(ADMINS, add=ADMINS, change=ADMINS, delete=ADMINS),
    "axes.accessattempt": model_rule(ADMINS, delete=ADMINS, actions=ADMINS),
    "axes.accesslog": model_rule(ADMINS, delete=ADMINS, actions=ADMINS),
    "axes.accessfailurelog": model_rule(ADMINS, delete=ADMINS, actions=ADMINS),
    "audit.event": model_rule(SIGNED_IN),
    "notifications.notification": model_rule(MANAGERS, actions=MANAGERS),
    "notifications.webhooksubscription": model_rule(ADMINS, add=ADMINS, change=ADMINS),
    "patients.patient": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "patients.companion": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "patients.referral": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "patients.readiness": model_rule(SIGNED_IN, change=CARE),
    "patients.returnee": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "batches.batch": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "batches.batchmember": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    "batches.crossingquota": model_rule(SIGNED_IN, add=MANAGERS, change=MANAGERS),
    # Crossings and their state (open, restricted, closed): admins, through the services.
    "batches.crossing": model_rule(SIGNED_IN, add=ADMINS, change=ADMINS),
}

# Which permission of ADMIN_MODELS each admin model page needs, per method.
ADMIN_PAGE_PERMISSIONS: dict[str, dict[str, str]] = {
    "changelist": {"GET": "view", "POST": "actions"},
    "add": {"GET": "add", "POST": "add"},
    "change": {"GET": "view", "POST": "change"},
    "history": {"GET": "view"},
    "delete": {"GET": "delete", "POST": "delete"},
}


def _admin_model_routes() -> dict[str, Rule]:
    routes = {}
    for label, permissions in ADMIN_MODELS.items():
        app_label, model_name = label.split(".")
        for page, needs in ADMIN_PAGE_PERMISSIONS.items():
            routes[f"admin:{app_label}_{model_name}_{page}"] = {
                method: permissions[permission] for method, permission in needs.items()
            }
    return routes


ROUTES: dict[str, Rule] = {**API_ROUTES, **PAGE_ROUTES, **_admin_model_routes()}


def allowed_roles(view_name: str, method: str) -> frozenset[Role]:
    """The roles that may use a route with a method; nobody for a route the table lacks."""
    method = method.upper()
    rule = ROUTES.get(view_name, {})
    return rule.get(READ_ALIASES.get(method, method), NOBODY)


def methods(view_name: str) -> list[str]:
    """The methods a route answers at all (for a 405 and its Allow header)."""
    listed = set(ROUTES.get(view_name, {}))
    return sorted(listed | {alias for alias, of in READ_ALIASES.items() if of in listed})


def allows(view_name: str, method: str, role: Role) -> bool:
    return role in allowed_roles(view_name, method)


def admin_allows(model_label: str, permission: str, role: Role) -> bool:
    """For the admin's own checks (which links and buttons it shows)."""
    return role in ADMIN_MODELS.get(model_label, {}).get(permission, NOBODY)
