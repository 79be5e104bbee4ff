"""SQLAlchemy mappings: the shape of every table. Changed only together with a migration."""

from assay.records.base import Base
from assay.records.dataset import DatasetRecord
from assay.records.experiment import ExperimentRecord, WorkflowRecord, WorkflowStatus
from assay.records.job import JobKind, JobRecord, JobStatus
from assay.records.lease import LeaseRecord
from assay.records.object_cleanup import ObjectCleanupRecord
from assay.records.project import ProjectRecord
from assay.records.secret import SecretRecord
from assay.records.tracking import OutboxState, TrackingLinkRecord, TrackingOutboxRecord
from assay.records.user import UserRecord

__all__ = [
    "Base",
    "DatasetRecord",
    "ExperimentRecord",
    "JobKind",
    "JobRecord",
    "JobStatus",
    "LeaseRecord",
    "ObjectCleanupRecord",
    "OutboxState",
    "ProjectRecord",
    "SecretRecord",
    "TrackingLinkRecord",
    "TrackingOutboxRecord",
    "UserRecord",
    "WorkflowRecord",
    "WorkflowStatus",
]
