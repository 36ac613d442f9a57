variable "cluster_name" {
  description = "EKS cluster whose pods use the role."
  type        = string
}

variable "service_accounts" {
  description = "Kubernetes service accounts that get the role, keyed by service name."
  type = map(object({
    namespace       = string
    service_account = string
  }))
}

variable "ecr_account_id" {
  description = "Account holding the ECR repositories the pods may read (the tooling account). Null allows repositories in any account; each repository's own policy still decides who may pull across accounts."
  type        = string
  default     = null

  validation {
    condition     = var.ecr_account_id == null || can(regex("^[0-9]{12}$", var.ecr_account_id))
    error_message = "The ecr_account_id must be a 12-digit AWS account ID."
  }
}

variable "enable_associations" {
  description = "Create the EKS pod identity associations binding the service accounts to the role."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for the role and the associations."
  type        = map(string)
  default     = {}
}
