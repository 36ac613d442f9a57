provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "idp"
      Environment = var.environment
      Cluster     = var.cluster_name
      ManagedBy   = "terraform"
    }
  }
}

module "vpc" {
  source = "../modules/vpc"

  name                 = var.cluster_name
  cluster_name         = var.cluster_name
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  public_subnet_cidrs  = var.public_subnet_cidrs
  private_subnet_cidrs = var.private_subnet_cidrs
  enable_nat_gateway   = var.enable_nat_gateway
  single_nat_gateway   = var.single_nat_gateway

  enable_route_table_associations = var.enable_route_table_associations
  enable_public_route_table       = var.enable_public_route_table
}

module "eks" {
  source = "../modules/eks"

  cluster_name                 = var.cluster_name
  cluster_version              = var.cluster_version
  subnet_ids                   = module.vpc.private_subnet_ids
  endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs
  enabled_log_types            = var.cluster_log_types

  node_instance_types = var.node_instance_types
  node_capacity_type  = var.node_capacity_type
  node_disk_size      = var.node_disk_size
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size
  node_desired_size   = var.node_desired_size

  admin_principal_arns     = var.admin_role_arns
  enable_access_entries    = var.enable_access_entries
  enable_addons            = var.enable_eks_addons
  use_aws_managed_policies = var.attach_aws_managed_policies
}

module "ecr_pod_identity" {
  source = "../modules/ecr-pod-identity"

  cluster_name        = module.eks.cluster_name
  ecr_account_id      = var.ecr_account_id
  enable_associations = var.enable_pod_identity_associations

  service_accounts = {
    for service, namespace in var.service_namespaces : service => {
      namespace       = namespace
      service_account = service
    }
  }
}
