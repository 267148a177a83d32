"""The lakelib platform: wires one component per layer and exports what lakelib reads.

``pulumi stack output --json > stack-outputs.json`` writes the outputs as the flat JSON
object the ``aws`` profile of lakelib reads (see README.md).
"""

from pathlib import Path

import pulumi
import pulumi_aws
from lake_platform.security import Encryption, EncryptionArgs, Security, SecurityArgs
from lake_platform.settings import load_settings
from lake_platform.storage import Storage, StorageArgs

settings = load_settings(
    pulumi.Config(),
    project=pulumi.get_project(),
    stack=pulumi.get_stack(),
    account_id=pulumi_aws.get_caller_identity().account_id,
    region=pulumi_aws.get_region().region,
    program_dir=Path(__file__).resolve().parent,
)

keys = Encryption("keys", EncryptionArgs(settings))
storage = Storage(
    "storage",
    StorageArgs(
        settings,
        data_key_arn=keys.data_key.arn,
        replica_key_arn=keys.replica_key.arn if keys.replica_key else None,
    ),
)
security = Security(
    "security",
    SecurityArgs(
        settings,
        bucket_arns=storage.bucket_arns,
        bucket_names=storage.bucket_names,
        data_key_arn=keys.data_key.arn,
        logs_bucket_policy=storage.logs_policy,
    ),
)

pulumi.export("region", settings.region)
pulumi.export("database", settings.database)
for zone, bucket_name in storage.bucket_names.items():
    pulumi.export(f"{zone.replace('-', '_')}_bucket", bucket_name)
pulumi.export("glue_role_arn", security.glue_role.arn)
pulumi.export("sagemaker_role_arn", security.sagemaker_role.arn)
