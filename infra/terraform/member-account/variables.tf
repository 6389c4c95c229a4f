variable "issuer_url" {
  type        = string
  description = "The broker's issuer URL, exactly as in the iss claim of its tokens (https, no trailing slash, no port)."

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+(/[A-Za-z0-9._~-]+)*$", var.issuer_url))
    error_message = "issuer_url must be https://<host>[/<path>], lower-case host, without a trailing slash or port."
  }
}

variable "audience" {
  type        = string
  default     = "sts.amazonaws.com"
  description = "The aud claim of the broker's tokens (its configured audience); the provider's only client id."

  validation {
    condition     = can(regex("^[A-Za-z0-9._:/+=@-]{1,255}$", var.audience))
    error_message = "audience must be 1-255 of [A-Za-z0-9._:/+=@-]."
  }
}

variable "create_provider" {
  type        = bool
  default     = true
  description = "false when the account already has an IAM OIDC provider for this issuer; its client id list must then include audience."
}

variable "thumbprint_list" {
  type        = list(string)
  default     = []
  description = "Certificate thumbprints for an issuer whose TLS certificate does not chain to a CA that IAM trusts; empty otherwise."

  validation {
    condition     = alltrue([for t in var.thumbprint_list : can(regex("^[0-9A-Fa-f]{40}$", t))])
    error_message = "Each thumbprint is 40 hexadecimal characters."
  }
}

variable "role_name" {
  type        = string
  description = "Name of the role. It is created under the /keyvend/ path, which the broker's default allow-list covers."

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "role_name must be 1-64 of [A-Za-z0-9_+=,.@-]."
  }
}

variable "entitlement_ids" {
  type        = list(string)
  description = "The ids of the Keyvend entitlements that may open this role; any other entitlement is refused. Each id is in the trust policy twice, which IAM caps at 2,048 characters by default (raisable to 4,096): room for ten ids of the longest length."

  # The broker's id syntax. It also keeps the ids from widening the StringLike patterns (no * or ?) and from
  # matching across the ':' that ends an id in the token's sub.
  validation {
    condition     = length(var.entitlement_ids) > 0 && alltrue([for id in var.entitlement_ids : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", id))])
    error_message = "entitlement_ids must list at least one id of 1-63 [a-z0-9-], starting with a letter or digit."
  }
}

variable "permissions_policy_arns" {
  type        = list(string)
  description = "Managed policies with the most any session of this role may do; the broker narrows each session further."

  validation {
    condition     = length(var.permissions_policy_arns) > 0 && alltrue([for arn in var.permissions_policy_arns : can(regex("^arn:aws(-cn|-us-gov)?:iam::(aws|\\d{12}):policy/[\\w+=,.@/-]+$", arn))])
    error_message = "permissions_policy_arns must list at least one managed policy ARN."
  }
}

variable "max_session_duration" {
  type        = number
  default     = 43200
  description = "Longest session the role allows, in seconds; the broker asks for the entitlement's duration within it."

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200."
  }
}

variable "revocations_role_arn" {
  type        = string
  description = "The role of the broker's revocations function (the broker stack's RevocationsRoleArn output): the only principal the keyvend-revoker role trusts."

  validation {
    condition     = can(regex("^arn:aws(-cn|-us-gov)?:iam::\\d{12}:role/[\\w+=,.@/-]+$", var.revocations_role_arn))
    error_message = "revocations_role_arn must be an IAM role ARN."
  }
}

variable "create_account_revocation" {
  type        = bool
  default     = true
  description = "false when another instance in this account already created the keyvend-revocations policy and the keyvend-revoker role; the role still gets the policy attached."
}
