output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "URL of the cluster's Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority" {
  description = "Base64-encoded CA certificate of the cluster's Kubernetes API."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = module.eks.cluster_arn
}

output "vpc_id" {
  description = "ID of the environment's VPC."
  value       = module.vpc.vpc_id

  precondition {
    condition     = alltrue([for az in var.availability_zones : startswith(az, var.region)])
    error_message = "Every availability zone must be in var.region."
  }
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in the order of availability_zones."
  value       = module.vpc.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in the order of availability_zones."
  value       = module.vpc.public_subnet_ids
}

output "ecr_read_role_arn" {
  description = "IAM role the services' pods receive through EKS Pod Identity."
  value       = module.ecr_pod_identity.role_arn
}

output "pod_identity_associations" {
  description = "Service => namespace/service-account bound to the ECR read role."
  value       = { for service, a in module.ecr_pod_identity.associations : service => "${a.namespace}/${a.service_account}" }
}
