# What a member account applies to trust Keyvend as an OpenID Connect issuer: the same provider and role as
# infra/member-account.yaml, producing the same trust policy (test/unit/infra/member-account.test.ts compares them).

terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.81 is the first release after thumbprint_list became optional (hashicorp/terraform-provider-aws#37255);
      # below 7 so that a new major version is a deliberate upgrade.
      version = ">= 5.81.0, < 7.0.0"
    }
  }
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  # IAM names the provider, and prefixes its condition keys, with the issuer URL minus its scheme.
  issuer_host_path = trimprefix(var.issuer_url, "https://")

  # Built rather than taken from the provider resource, so that it is the same whether this module creates the
  # provider or another stack did; depends_on below keeps the ordering.
  provider_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.issuer_host_path}"

  # Entitlement ids cannot contain ':', so ent:<id>:user:* cannot match a sub of another entitlement.
  subject_patterns = [for id in var.entitlement_ids : "ent:${id}:user:*"]

  # One statement for the three actions: STS authorizes each of them against the same request (token claims,
  # SourceIdentity, tags), so every condition holds for all three. Keys within one operator must all match and any
  # listed value of a key may match: the audience, AND a sub of one of the entitlements, AND a keyvend:entitlement
  # tag naming one of them (what permission policies and revocation denies key on; StringEquals on an absent tag is
  # false), AND a SourceIdentity, AND a keyvend:user tag (permission policies scope by it).
  # The account's revocation policy (docs/revocation.md), the same ARN whether this instance creates it or another did.
  revocation_policy_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/keyvend/keyvend-revocations"

  # It starts denying nothing (no token was issued before 1970); Keyvend replaces it with new default versions.
  revocation_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid      = "KeyvendNothingRevoked"
      Effect   = "Deny"
      Action   = "*"
      Resource = "*"
      Condition = {
        Null         = { "aws:PrincipalTag/keyvend:grant" = "false" }
        DateLessThan = { "aws:TokenIssueTime" = "1970-01-01T00:00:00Z" }
      }
    }]
  }

  # The revoker role: trusted by the broker's revocations function alone, allowed only to version that one policy.
  revoker_trust_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "KeyvendRevocationsFunctionOnly"
      Effect    = "Allow"
      Principal = { AWS = var.revocations_role_arn }
      Action    = "sts:AssumeRole"
    }]
  }
  revoker_permissions = {
    Version = "2012-10-17"
    Statement = [{
      Sid      = "VersionTheRevocationPolicyOnly"
      Effect   = "Allow"
      Action   = ["iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:ListPolicyVersions", "iam:GetPolicyVersion"]
      Resource = local.revocation_policy_arn
    }]
  }

  trust_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "KeyvendGrantsForListedEntitlementsOnly"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"]
      Condition = {
        StringEquals = {
          "${local.issuer_host_path}:aud"      = var.audience
          "aws:RequestTag/keyvend:entitlement" = var.entitlement_ids
        }
        StringLike = {
          "${local.issuer_host_path}:sub" = local.subject_patterns
        }
        Null = {
          "sts:SourceIdentity"          = "false"
          "aws:RequestTag/keyvend:user" = "false"
        }
      }
    }]
  }
}

# IAM allows one provider per issuer per account: only the first module instance for an issuer creates it.
resource "aws_iam_openid_connect_provider" "keyvend" {
  count = var.create_provider ? 1 : 0

  url             = var.issuer_url
  client_id_list  = [var.audience]
  thumbprint_list = length(var.thumbprint_list) > 0 ? var.thumbprint_list : null
}

resource "aws_iam_role" "target" {
  name                 = var.role_name
  path                 = "/keyvend/"
  max_session_duration = var.max_session_duration
  description          = "Opened only by Keyvend's issuer for the listed entitlements, with a per-grant session policy."
  assume_role_policy   = jsonencode(local.trust_policy)

  # IAM refuses a trust policy naming a provider that does not exist yet.
  depends_on = [aws_iam_openid_connect_provider.keyvend]
}

resource "aws_iam_role_policy_attachment" "permissions" {
  for_each = toset(var.permissions_policy_arns)

  role       = aws_iam_role.target.name
  policy_arn = each.value
}

# One per account (create_account_revocation on the first instance only). Keyvend writes new default versions;
# Terraform must not revert them, hence ignore_changes on the document.
resource "aws_iam_policy" "revocations" {
  count = var.create_account_revocation ? 1 : 0

  name        = "keyvend-revocations"
  path        = "/keyvend/"
  description = "Written by Keyvend only. Denies sessions of revoked people, grants and entitlements issued before their revocation."
  policy      = jsonencode(local.revocation_policy)

  lifecycle {
    ignore_changes = [policy]
  }
}

# Outside /keyvend/, so no entitlement can name it (the broker's allow-list is role/keyvend/*).
resource "aws_iam_role" "revoker" {
  count = var.create_account_revocation ? 1 : 0

  name                 = "keyvend-revoker"
  path                 = "/"
  max_session_duration = 3600
  description          = "Keyvend's revocations function rewrites the keyvend-revocations policy through this role, and nothing else."
  assume_role_policy   = jsonencode(local.revoker_trust_policy)
}

resource "aws_iam_role_policy" "revoker" {
  count = var.create_account_revocation ? 1 : 0

  name   = "version-keyvend-revocations"
  role   = aws_iam_role.revoker[0].name
  policy = jsonencode(local.revoker_permissions)
}

resource "aws_iam_role_policy_attachment" "revocations" {
  role       = aws_iam_role.target.name
  policy_arn = local.revocation_policy_arn

  depends_on = [aws_iam_policy.revocations]
}
