variable "repositories" {
  description = "ECR repositories of the tooling account, one per service (e.g. idp/localtime)."
  type        = set(string)
  default     = ["idp/localtime", "idp/version"]
}
