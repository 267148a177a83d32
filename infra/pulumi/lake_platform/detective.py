"""Detective controls (optional layer, stack config ``detective``): what watches the account.

GuardDuty (threat detection), Security Hub with the AWS Foundational Security Best Practices
standard (the same controls ``policies.py`` names, evaluated on what is deployed), AWS Config
(the recorder Security Hub's controls read, delivering to the logs bucket) and IAM Access
Analyzer (external access to this account's resources).

Off by default: these are per account and region, not per stack; a second stack in the same
account, or an organisation that already runs them centrally (delegated administrator),
would collide with them (GuardDuty allows one detector per region, Config one recorder).
``Pulumi.prod.yaml`` turns them on.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws.accessanalyzer
import pulumi_aws.cfg
import pulumi_aws.guardduty
import pulumi_aws.iam
import pulumi_aws.securityhub
from pulumi import ResourceOptions

from lake_platform.settings import PlatformSettings

# Where AWS Config delivers snapshots and history in the logs bucket (its policy allows it).
CONFIG_PREFIX = "config"
CONFIG_SERVICE_LINKED_ROLE = "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


def fsbp_standard_arn(region: str) -> str:
    """The ARN of the AWS Foundational Security Best Practices standard, v1.0.0."""
    return (
        f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0"
    )


@dataclass
class DetectiveArgs:
    """Inputs of :class:`Detective`."""

    settings: PlatformSettings
    logs_bucket: pulumi.Input[str]
    # AWS Config checks at creation that it may write there: the channel waits for it.
    logs_bucket_policy: pulumi.Resource


class Detective(pulumi.ComponentResource):
    """GuardDuty, Security Hub (FSBP), AWS Config and IAM Access Analyzer, as configured."""

    def __init__(self, name: str, args: DetectiveArgs, opts: ResourceOptions | None = None):
        super().__init__("lakelib:platform:Detective", name, None, opts)
        s = args.settings
        spec = s.detective
        child = ResourceOptions(parent=self)
        self.detector = None
        if spec.guard_duty:
            self.detector = pulumi_aws.guardduty.Detector(
                f"{name}-guardduty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                tags=dict(s.tags),
                opts=child,
            )
        self.standard = None
        if spec.security_hub:
            hub = pulumi_aws.securityhub.Account(
                f"{name}-securityhub",
                # Only the standard asked for below, not every default one.
                enable_default_standards=False,
                auto_enable_controls=True,
                opts=child,
            )
            self.standard = pulumi_aws.securityhub.StandardsSubscription(
                f"{name}-fsbp",
                standards_arn=fsbp_standard_arn(s.region),
                opts=ResourceOptions(parent=self, depends_on=[hub]),
            )
        self.recorder = None
        if spec.config_recorder:
            # FSBP Config.1 wants the service-linked role (Config manages its permissions).
            depends: list[pulumi.Resource] = []
            if spec.config_service_linked_role:
                depends.append(
                    pulumi_aws.iam.ServiceLinkedRole(
                        f"{name}-config-role",
                        aws_service_name="config.amazonaws.com",
                        opts=child,
                    )
                )
            self.recorder = pulumi_aws.cfg.Recorder(
                f"{name}-config",
                name=s.resource_name("config"),
                role_arn=f"arn:aws:iam::{s.account_id}:role/{CONFIG_SERVICE_LINKED_ROLE}",
                recording_group={"all_supported": True, "include_global_resource_types": True},
                opts=ResourceOptions(parent=self, depends_on=depends),
            )
            channel = pulumi_aws.cfg.DeliveryChannel(
                f"{name}-config",
                name=s.resource_name("config"),
                s3_bucket_name=args.logs_bucket,
                s3_key_prefix=CONFIG_PREFIX,
                opts=ResourceOptions(
                    parent=self, depends_on=[self.recorder, args.logs_bucket_policy]
                ),
            )
            pulumi_aws.cfg.RecorderStatus(
                f"{name}-config",
                name=self.recorder.name,
                is_enabled=True,
                opts=ResourceOptions(parent=self, depends_on=[channel]),
            )
        self.analyzer = None
        if spec.access_analyzer:
            self.analyzer = pulumi_aws.accessanalyzer.Analyzer(
                f"{name}-access-analyzer",
                analyzer_name=s.resource_name("external-access"),
                type="ACCOUNT",
                tags=dict(s.tags),
                opts=child,
            )
        self.register_outputs({})
