output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded certificate of the cluster's CA."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS created for the control plane and the managed nodes."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "cluster_subnet_ids" {
  description = "Subnets of the control plane's network interfaces."
  value       = aws_eks_cluster.this.vpc_config[0].subnet_ids
}

output "authentication_mode" {
  description = "How the cluster maps IAM principals to Kubernetes identities."
  value       = aws_eks_cluster.this.access_config[0].authentication_mode
}

output "enabled_log_types" {
  description = "Control plane log types sent to CloudWatch Logs."
  value       = aws_eks_cluster.this.enabled_cluster_log_types
}

output "log_group_name" {
  description = "CloudWatch log group of the control plane logs (null when logging is off)."
  value       = one(aws_cloudwatch_log_group.cluster[*].name)
}

output "cluster_role_arn" {
  description = "ARN of the control plane's IAM role."
  value       = aws_iam_role.cluster.arn
}

output "node_role_arn" {
  description = "ARN of the nodes' IAM role."
  value       = aws_iam_role.node.arn
}

output "role_permissions" {
  description = "Where the cluster and node roles get their permissions: attached AWS-managed policy ARNs, and inline policies by name (JSON)."
  value = {
    cluster = {
      managed = sort([for a in aws_iam_role_policy_attachment.cluster : a.policy_arn])
      inline  = { for name, p in aws_iam_role_policy.cluster : name => p.policy }
    }
    node = {
      managed = sort([for a in aws_iam_role_policy_attachment.node : a.policy_arn])
      inline  = { for name, p in aws_iam_role_policy.node : name => p.policy }
    }
  }
}

output "node_group" {
  description = "The managed node group: name, subnets, capacity type, instance types and scaling."
  value = {
    name           = aws_eks_node_group.default.node_group_name
    subnet_ids     = aws_eks_node_group.default.subnet_ids
    capacity_type  = aws_eks_node_group.default.capacity_type
    instance_types = aws_eks_node_group.default.instance_types
    min_size       = aws_eks_node_group.default.scaling_config[0].min_size
    desired_size   = aws_eks_node_group.default.scaling_config[0].desired_size
    max_size       = aws_eks_node_group.default.scaling_config[0].max_size
  }
}

output "admin_access" {
  description = "Principals with an access entry managed here, and the access policies associated with each (with their scope)."
  value = {
    for arn, entry in aws_eks_access_entry.admin : arn => {
      type     = entry.type
      policies = [for a in aws_eks_access_policy_association.admin : "${a.policy_arn}@${a.access_scope[0].type}" if a.principal_arn == arn]
    }
  }
}

output "addons" {
  description = "Installed add-ons and their versions."
  value       = { for name, addon in aws_eks_addon.this : name => addon.addon_version }
}
