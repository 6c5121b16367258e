"""The network the database lives in."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.logs import retention_period
from constructs_lib.network import IsolatedNetwork


class NetworkStack(Stack):
    """An isolated VPC in at least two AZs with flow logs and a closed default security group."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = IsolatedNetwork(
            self,
            "Network",
            cidr=config.vpc_cidr,
            availability_zones=config.availability_zones,
            flow_log_retention=retention_period(config.log_retention_days),
        )
