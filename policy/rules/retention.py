"""Nothing stateful is deleted by accident: deletion protection and retaining policies."""

from __future__ import annotations

from cloud_assembly import removal
from cloud_assembly.template import Resource, truthy
from policy.model import COMPLIANT, Result, Rule, StackView, is_replica, non_compliant


def _deletion_protection(resource: Resource, stack: StackView) -> Result:
    if not truthy(resource.prop("DeletionProtection")):
        return non_compliant(f"DeletionProtection={resource.prop('DeletionProtection')!r}; "
                             "must be true")
    return COMPLIANT


DELETION_PROTECTION = Rule(
    id="Redundancy-DeletionProtection",
    info="A database instance does not have deletion protection.",
    explanation="Deletion protection makes RDS refuse DeleteDBInstance, from the console, the "
                "API or a CloudFormation stack deletion, until someone turns it off on purpose.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_deletion_protection,
)


def _database_policies(resource: Resource, stack: StackView) -> Result:
    attributes = [("UpdateReplacePolicy", resource.update_replace_policy)]
    if not is_replica(resource):  # CloudFormation ignores a read replica's DeletionPolicy
        attributes.insert(0, ("DeletionPolicy", resource.deletion_policy))
    for attribute, value in attributes:
        if not removal.keeps_data(value):
            return non_compliant(f"{attribute}={value or 'Delete (default)'}; must be Snapshot "
                                 "or Retain")
    return COMPLIANT


DATABASE_POLICIES = Rule(
    id="Redundancy-DatabaseDeletionPolicy",
    info="A database instance would lose its data when it leaves the stack or is replaced.",
    explanation="CloudFormation's DeletionPolicy (when the resource leaves the stack) and "
                "UpdateReplacePolicy (when a create-only change replaces it) decide what "
                "happens to the data: Snapshot or Retain keeps it, Delete (CDK's "
                "RemovalPolicy.DESTROY) loses it with its automated backups. CloudFormation "
                "ignores the DeletionPolicy of a read replica (\"Read replicas don't support "
                "deletion policies\"), so a replica's is not checked: deletion protection "
                "(Redundancy-DeletionProtection) keeps a replica, and its UpdateReplacePolicy, "
                "which CloudFormation applies to any resource it replaces, keeps it on "
                "replacement.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_database_policies,
    reads_removal_policies=True,
)


def _retained(resource: Resource, stack: StackView) -> Result:
    for attribute, value in (("DeletionPolicy", resource.deletion_policy),
                             ("UpdateReplacePolicy", resource.update_replace_policy)):
        if value != removal.RETAIN:
            return non_compliant(f"{attribute}={value or 'Delete (default)'}; must be Retain")
    return COMPLIANT


KEY_AND_SECRET_RETAINED = Rule(
    id="Redundancy-KeyAndSecretRetained",
    info="The KMS key or the credentials secret would be deleted with its stack.",
    explanation="Deleting the key makes every snapshot and backup it encrypted unreadable "
                "forever; deleting the secret locks everyone out of the database. Both must "
                "outlive the stack (RemovalPolicy.RETAIN).",
    resource_types=("AWS::KMS::Key", "AWS::SecretsManager::Secret"),
    check=_retained,
    reads_removal_policies=True,
)

RULES = (DELETION_PROTECTION, DATABASE_POLICIES, KEY_AND_SECRET_RETAINED)
