"""The secure floors of this project: the constructs' defaults and their validation, the
config's validation and the gate's rules read them here, so a construct and the rule that checks
it cannot disagree. Likewise the isolated network's layout, which the network construct builds
and the config's validation sizes VPCs for."""

from __future__ import annotations

import math

#: Automated backups are kept at least this long (RDS allows 0..35; 0 turns them off).
MIN_BACKUP_RETENTION_DAYS = 7
#: Database and flow logs are audit evidence (AWS Control Tower CT.CLOUDWATCH.PR.2).
MIN_LOG_RETENTION_DAYS = 365
#: A database spans at least this many AZs; a network without named AZs takes this many.
MIN_AVAILABILITY_ZONES = 2
#: The isolated network gives each AZ one database subnet of this prefix length (a /24).
DATABASE_SUBNET_PREFIX = 24
#: The largest VPC EC2 allows: a /16.
LARGEST_VPC_PREFIX = 16


def vpc_prefixes(availability_zones: int) -> range:
    """The prefix lengths of a VPC with room for a database subnet in each of
    `availability_zones` AZs: /16 up to /23 for two AZs, /22 for three or four."""
    room = math.ceil(math.log2(max(availability_zones, 1)))
    return range(LARGEST_VPC_PREFIX, DATABASE_SUBNET_PREFIX - room + 1)
