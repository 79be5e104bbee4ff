"""Every setting of Assay, read from ``ASSAY_*`` environment variables.

Each one has an embedded-mode default so that ``assay serve`` works with no configuration;
production deployments change them one variable at a time.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

GIB = 1024**3


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
    cors_allowed_origins: str = Field(
        default="", description="comma-separated origins whose pages may call the API (none by default)"
    )
    trusted_proxies: str = Field(
        default="", description="comma-separated addresses or networks of proxies whose X-Forwarded-* count"
    )
    public_url: str | None = Field(
        default=None, description="the server's address as clients reach it; download links start with it"
    )
    cleanup_interval_seconds: float = 60.0

    ray_address: str | None = None
    ray_python: str | None = None
    reconcile_interval_seconds: float = 1.0
    tracking_interval_seconds: float = 2.0
    job_cpus: float = 1.0

    tracking_uri: str | None = None

    @cached_property
    def cors_origins(self) -> list[str]:
        """The allowed origins, without trailing slashes (browsers send none)."""
        origins = (origin.strip().rstrip("/") for origin in self.cors_allowed_origins.split(","))
        return [origin for origin in origins if origin]

    @cached_property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(entry.strip(), strict=False)
            for entry in self.trusted_proxies.split(",")
            if entry.strip()
        ]

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
    def auth_required(self) -> bool:
        """Embedded mode on loopback lets the local admin in without a login; anything
        reachable from another machine needs credentials on every route but health."""
        return self.auth == "required" or not is_loopback(self.host)

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret.key"
