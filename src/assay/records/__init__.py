"""SQLAlchemy mappings: the shape of every table. Changed only together with a migration."""

from assay.enums import FileFolder, Role
from assay.records.audit import AuditEventRecord
from assay.records.base import Base
from assay.records.dataset import DatasetRecord
from assay.records.experiment import ExperimentRecord, WorkflowRecord, WorkflowStatus
from assay.records.file import FileRecord
from assay.records.job import JobKind, JobRecord, JobStatus
from assay.records.job_credential import JobCredentialRecord
from assay.records.lease import LeaseRecord
from assay.records.login_failure import LoginFailureRecord
from assay.records.member import MemberRecord
from assay.records.object_cleanup import ObjectCleanupRecord
from assay.records.project import ProjectRecord
from assay.records.secret import SecretRecord
from assay.records.service import DesiredState, ServiceRecord, ServiceReplicaRecord, ServiceStatus
from assay.records.service_credential import ServiceCredentialRecord
from assay.records.token import TokenKind, TokenRecord
from assay.records.tracking import OutboxState, TrackingLinkRecord, TrackingOutboxRecord
from assay.records.user import UserRecord
from assay.records.warm_worker import WarmWorkerRecord

__all__ = [
    "AuditEventRecord",
    "Base",
    "DatasetRecord",
    "DesiredState",
    "ExperimentRecord",
    "FileFolder",
    "FileRecord",
    "JobCredentialRecord",
    "JobKind",
    "JobRecord",
    "JobStatus",
    "LeaseRecord",
    "LoginFailureRecord",
    "MemberRecord",
    "ObjectCleanupRecord",
    "OutboxState",
    "ProjectRecord",
    "Role",
    "SecretRecord",
    "ServiceCredentialRecord",
    "ServiceRecord",
    "ServiceReplicaRecord",
    "ServiceStatus",
    "TokenKind",
    "TokenRecord",
    "TrackingLinkRecord",
    "TrackingOutboxRecord",
    "UserRecord",
    "WarmWorkerRecord",
    "WorkflowRecord",
    "WorkflowStatus",
]
