output "role_arn" {
  description = "The roleArn to put in the Keyvend entitlements listed in entitlement_ids."
  value       = aws_iam_role.target.arn
}

output "oidc_provider_arn" {
  description = "The IAM OIDC provider the role trusts."
  value       = local.provider_arn
}

output "trust_policy" {
  description = "The role's trust policy, as JSON."
  value       = aws_iam_role.target.assume_role_policy
}

output "revoker_role_arn" {
  description = "Add it to the broker's KEYVEND_REVOKER_ROLE_ARNS (one per member account); null when another instance created it."
  value       = var.create_account_revocation ? aws_iam_role.revoker[0].arn : null
}
