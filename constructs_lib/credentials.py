"""Generated database credentials: a Secrets Manager secret, never a literal password."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

# Characters that break connection strings or shell quoting; RDS also refuses / @ " and space.
EXCLUDED_PASSWORD_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"


class DatabaseCredentials(Construct):
    """The master user's secret: a generated 32-character password encrypted with `key`.

    The secret is retained if its stack is deleted (losing it would lock out the database). It is a
    generated Secrets Manager secret rather than the RDS-managed master password because the
    RDS-managed password cannot source a MySQL or PostgreSQL read replica. Rotation is attached by
    `RedundantDatabase` once the secret is bound to its instance.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, username: str, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = rds.DatabaseSecret(
            self,
            "Secret",
            username=username,
            encryption_key=key,
            exclude_characters=EXCLUDED_PASSWORD_CHARACTERS,
        )
        self.secret.apply_removal_policy(RemovalPolicy.RETAIN)
        self.credentials = rds.Credentials.from_secret(self.secret)
