"""Every setting of Assay, read from ``ASSAY_*`` environment variables.

Each one has an embedded-mode default so that ``assay serve`` works with no configuration;
production deployments change them one variable at a time.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GIB = 1024**3
KIB = 1024
# Comma-separated in the environment (``ASSAY_ALLOWED_HOSTS=a.example,b.example``).
CommaList = Annotated[list[str], NoDecode]


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address; ``0.0.0.0`` and names of the machine are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".assay")
    host: str = "127.0.0.1"
    port: int = 8000
    deployment_type: str = "local"
    namespace: str = "assay"

    database_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    secret_key: SecretStr | None = None
    max_dataset_bytes: int = GIB
    download_link_ttl_seconds: int = 3600
    default_project: str = "default"
    admin_username: str = "admin"
    admin_password: SecretStr | None = Field(
        default=None, description="password given to the admin on first start, if it has none"
    )
    auth: Literal["auto", "required"] = Field(
        default="auto", description="auto: credentials are required unless the server listens on loopback"
    )
    session_ttl_seconds: int = 7 * 24 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 300
    max_file_bytes: int = 100 * GIB
    public_url: str | None = Field(
        default=None, description="the server's address as clients reach it; download links start with it"
    )
    cleanup_interval_seconds: float = 60.0

    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Host header names served besides loopback names and a concrete ASSAY_HOST; * for any",
    )
    allowed_origins: CommaList = Field(
        default_factory=list,
        description="origins (scheme://host:port) whose pages may call the API (CORS) and send "
        "state-changing requests with a browser's implicit credentials",
    )
    trusted_proxies: CommaList = Field(
        default_factory=list, description="peer addresses or networks whose X-Forwarded-* headers are read"
    )
    max_header_bytes: int = 64 * KIB

    ray_address: str | None = None
    ray_python: str | None = None
    ray_auth_token_file: Path | None = Field(
        default=None, description="token file of the cluster at ray_address (else Ray's own lookup)"
    )
    ray_cluster_token_files: dict[str, Path] = Field(
        default_factory=dict,
        description="token file of each cluster a project is bound to, by its address (JSON object)",
    )
    ray_user: str = Field(
        default="assay-ray", description="OS user of the local Ray head in multi-user mode (server as root)"
    )
    reconcile_interval_seconds: float = Field(
        default=1.0, description="how often the reconciler looks while no job or workflow is active"
    )
    reconcile_busy_interval_seconds: float = Field(
        default=0.2, description="how often it looks while a job or workflow is active"
    )
    reconcile_wakeup: bool = Field(
        default=True, description="a request that creates or changes a job or workflow wakes the reconciler"
    )
    service_health_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how often each running service replica's health path is checked "
        "(at most as often as the reconciler looks)",
    )
    service_health_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="how long one health check may take before it counts as failed"
    )
    service_health_failures: int = Field(
        default=3,
        ge=1,
        description="failed health checks in a row after which a running replica is restarted",
    )
    tracking_interval_seconds: float = 2.0
    job_cpus: float = 1.0
    warm_pool: bool = Field(
        default=True,
        description="built-in jobs run in a warm worker (a long-lived engine job), not each in its own",
    )
    warm_pool_at_start: bool = Field(
        default=True,
        description=(
            "keep a warm worker running from the server's start, so the first workflow does not "
            "wait for the local Ray head and the worker's imports"
        ),
    )
    warm_pool_slots: int = Field(
        default=4, ge=1, le=64, description="built-in jobs one warm worker runs at once"
    )
    job_api_url: str | None = Field(
        default=None, description="URL at which jobs reach this server's internal job API"
    )
    job_env_allow: str = Field(
        default="", description="more variable names (comma-separated) passed from the server to jobs"
    )

    tracking_uri: str | None = None

    @field_validator("allowed_hosts", "allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @cached_property
    def cors_origins(self) -> list[str]:
        """The allowed origins, without trailing slashes (browsers send none)."""
        return [origin.rstrip("/") for origin in self.allowed_origins]

    @cached_property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``*`` trusts every peer (a proxy on a private network the server alone faces)."""
        entries = ["0.0.0.0/0", "::/0"] if "*" in self.trusted_proxies else self.trusted_proxies
        return [ipaddress.ip_network(entry, strict=False) for entry in entries]

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'assay.db'}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.home / 'objects'}"

    @cached_property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def resolved_job_api_url(self) -> str:
        """Where the server listens; a wildcard address is reached on loopback, which only
        workers on this machine can do (other nodes need ``ASSAY_JOB_API_URL``)."""
        if self.job_api_url:
            return self.job_api_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::", "[::]") else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}"

    @property
    def job_env_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.job_env_allow.replace(",", " ").split() if name)

    @property
    def auth_required(self) -> bool:
        """Embedded mode on loopback lets the local admin in without a login; anything
        reachable from another machine needs credentials on every route but health."""
        return self.auth == "required" or not is_loopback(self.host)

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret.key"
