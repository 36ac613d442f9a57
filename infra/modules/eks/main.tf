locals {
  cluster_admin_policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
  admin_principals         = toset([for arn in var.admin_principal_arns : arn if var.enable_access_entries])
}

# --- control plane --------------------------------------------------------------------------

resource "aws_iam_role" "cluster" {
  name        = "${var.cluster_name}-cluster"
  description = "EKS control plane of ${var.cluster_name}"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
    }]
  })

  tags = var.tags
}

# EKS would create this group itself, with no expiry; creating it first sets the retention.
resource "aws_cloudwatch_log_group" "cluster" {
  count = length(var.enabled_log_types) > 0 ? 1 : 0

  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.cluster_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = var.enabled_log_types

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.endpoint_public_access_cidrs
  }

  access_config {
    # Access entries only (no aws-auth ConfigMap), and no implicit entry for whoever created the
    # cluster: who may administer it is exactly admin_principal_arns, whichever role ran the
    # apply (an implicit entry for a role that is also listed would make EKS refuse the
    # explicit one as a duplicate).
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster,
    aws_cloudwatch_log_group.cluster,
  ]
}

# --- nodes ----------------------------------------------------------------------------------

resource "aws_iam_role" "node" {
  name        = "${var.cluster_name}-node"
  description = "Managed node group of ${var.cluster_name}"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_eks_node_group" "default" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.cluster_name}-default"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  version         = var.cluster_version

  ami_type       = var.node_ami_type
  capacity_type  = var.node_capacity_type
  instance_types = var.node_instance_types
  disk_size      = var.node_disk_size

  scaling_config {
    min_size     = var.node_min_size
    max_size     = var.node_max_size
    desired_size = var.node_desired_size
  }

  update_config {
    max_unavailable = 1
  }

  tags = var.tags

  # Nodes must be able to pull images and join the cluster before EKS calls the group healthy.
  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_iam_role_policy.node,
  ]

  lifecycle {
    precondition {
      condition     = var.node_min_size <= var.node_desired_size && var.node_desired_size <= var.node_max_size
      error_message = "The node group needs node_min_size <= node_desired_size <= node_max_size."
    }
  }
}

# --- access ---------------------------------------------------------------------------------

resource "aws_eks_access_entry" "admin" {
  for_each = local.admin_principals

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.key
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = local.admin_principals

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.key].principal_arn
  policy_arn    = local.cluster_admin_policy_arn

  access_scope {
    type = "cluster"
  }
}

# --- add-ons --------------------------------------------------------------------------------

resource "aws_eks_addon" "this" {
  for_each = { for name, addon in var.addons : name => addon if var.enable_addons }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"

  tags = var.tags

  # Add-ons that run as DaemonSets only turn ACTIVE once there are nodes to run on.
  depends_on = [aws_eks_node_group.default]
}
