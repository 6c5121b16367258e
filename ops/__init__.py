"""Operations on a deployed RedundantDb environment, with boto3 only (no aws_cdk import).

`python -m ops verify --env ENV` checks the live resources against the stack outputs and the
environment's config; `python -m ops failover --env ENV` promotes a read replica and repoints the
writer endpoint, and `failover --region-dr` does so with the cross-region DR replica when the
primary region is lost. Everything is found from the CloudFormation outputs of
`RedundantDb-<env>-Database` (and `RedundantDb-<env>-DrReplica` in the env's `dr_region`) and from
`config.ENVIRONMENTS`; no resource name is hard-coded.
See docs/operations.md.
"""
