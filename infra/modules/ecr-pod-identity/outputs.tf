output "role_arn" {
  description = "ARN of the pods' ECR read role."
  value       = aws_iam_role.ecr_read.arn
}

output "role_name" {
  description = "Name of the pods' ECR read role."
  value       = aws_iam_role.ecr_read.name
}

output "assume_role_policy" {
  description = "Trust policy of the role (JSON)."
  value       = aws_iam_role.ecr_read.assume_role_policy
}

output "permissions_policy" {
  description = "Inline permissions of the role (JSON)."
  value       = aws_iam_role_policy.ecr_read.policy
}

output "associations" {
  description = "Pod identity associations by service: namespace, service account and role (empty when enable_associations is false)."
  value = {
    for name, a in aws_eks_pod_identity_association.service : name => {
      namespace       = a.namespace
      service_account = a.service_account
      role_arn        = a.role_arn
    }
  }
}
