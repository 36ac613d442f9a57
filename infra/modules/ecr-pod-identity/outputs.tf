output "role_arn" {
  description = "ARN of the pods' ECR read role."
  value       = aws_iam_role.ecr_read.arn
}

output "role_name" {
  description = "Name of the pods' ECR read role."
  value       = aws_iam_role.ecr_read.name
}

output "associations" {
  description = "Pod identity associations by service: namespace/service-account (empty when enable_associations is false)."
  value       = { for name, a in aws_eks_pod_identity_association.service : name => "${a.namespace}/${a.service_account}" }
}
