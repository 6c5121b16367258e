"""Generated database credentials: a Secrets Manager secret, never a literal password."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.validation import invalid

# Characters that break connection strings or shell quoting; RDS also refuses / @ " and space.
EXCLUDED_PASSWORD_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"
# A master user name every engine accepts: a letter, then up to 15 letters, digits or _.
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")


def check_username(owner: str, prop: str, username: str) -> str:
    if not _USERNAME.match(username):
        raise invalid(owner, prop, username,
                      "a letter, then up to 15 letters, digits or underscores")
    return username


class DatabaseCredentials(Construct):
    """The master user's secret: a generated 30-character password encrypted with `key`.

    The secret is retained if its stack is deleted (losing it would lock out the database). It is a
    generated Secrets Manager secret rather than the RDS-managed master password because the
    RDS-managed password cannot source a MySQL or PostgreSQL read replica. Rotation is attached by
    `RedundantDatabase` once the secret is bound to its instance.

    `replica_regions` maps a region to the key that encrypts a read-only replica of the secret
    there (the DR region: after a regional failover the secret is still readable, and can be
    promoted to a standalone secret).

    Changing `username` changes the generated secret's template, so a new password is generated
    that the existing database does not know: the username is create-only in practice too.

    Props:
    - `username`: the master user: a letter, then up to 15 letters, digits or underscores.
    - `key`: encrypts the secret.
    - `replica_regions`: default none; region -> key of that region for a read-only replica.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, username: str, key: kms.IKey,
        replica_regions: Mapping[str, kms.IKey] | None = None,
    ) -> None:
        check_username("DatabaseCredentials", "username", username)
        super().__init__(scope, construct_id)
        self.secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=username,
            encryption_key=key,
            exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
            replica_regions=[
                secretsmanager.ReplicaRegion(region=region, encryption_key=replica_key)
                for region, replica_key in (replica_regions or {}).items()
            ] or None,
        )
        self.secret.apply_removal_policy(RemovalPolicy.RETAIN)
        self.credentials = rds.Credentials.from_secret(self.secret)
