"""Reports, the moderators' audit log and account suspensions: one table, three kinds of item.

- a report: ``pk = report#<id>``, ``sk = report``; in the ``queue`` index while it has ``queue`` (``open`` or
  ``resolved``) and ``queued_at`` (``<createdAt>#<id>`` while open, ``<resolvedAt>#<id>`` once resolved);
- an audit entry, written once per scope it can be listed by: ``pk = audit#all``, ``audit#moderator#<id>``,
  ``audit#conversation#<id>``, ``audit#pair#<moderator>#<conversation>``; ``sk = <at>#<entry id>``;
- a suspension: ``pk = suspension#<user>``, ``sk = suspension``; in the ``suspensions`` index (``suspended`` is
  always ``"yes"``, ``suspended_until`` its end), which answers "who is suspended now" with one Query of the
  active ones only (``suspended_until > now``).

Both indexes are sparse: an audit entry is in neither. The record itself is ``data`` (the shape of
``records.report_record`` / ``records.audit_record``).
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.base import table_meta


class QueueIndex(GlobalSecondaryIndex["ModerationItem"]):  # type: ignore[no-untyped-call]  # PynamoDB's hook
    """Reports by status: open ones oldest first, resolved ones by when."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue = UnicodeAttribute(hash_key=True)
    queued_at = UnicodeAttribute(range_key=True)


class SuspensionsIndex(GlobalSecondaryIndex["ModerationItem"]):  # type: ignore[no-untyped-call]
    """Suspensions by their end: the active ones are the ones ending after now."""

    class Meta:
        index_name = "suspensions"
        projection = AllProjection()

    suspended = UnicodeAttribute(hash_key=True)
    suspended_until = UnicodeAttribute(range_key=True)


class ModerationItem(Model):
    """A report, an audit entry or a suspension (see the module's description)."""

    Meta = table_meta("moderation")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # report | audit | suspension
    data = JSONAttribute(default=dict)
    queue = UnicodeAttribute(null=True)
    queued_at = UnicodeAttribute(null=True)
    suspended = UnicodeAttribute(null=True)
    suspended_until = UnicodeAttribute(null=True)

    by_queue = QueueIndex()
    by_suspension = SuspensionsIndex()
