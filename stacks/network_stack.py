"""The network the database lives in (one per region)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.network import IsolatedNetwork


class NetworkStack(Stack):
    """An isolated VPC in at least two AZs with flow logs and a closed default security group.

    The primary region uses `config.vpc_cidr` / `availability_zones`; the DR region passes
    `dr=True` for `dr_vpc_cidr` / `dr_availability_zones`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 dr: bool = False, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = IsolatedNetwork(
            self,
            "Network",
            cidr=config.dr_vpc_cidr if dr else config.vpc_cidr,
            availability_zones=config.dr_availability_zones if dr else config.availability_zones,
            flow_log_retention_days=config.log_retention_days,
        )
