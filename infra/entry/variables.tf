# --- passed by idp on every run (generated *.auto.tfvars.json) ------------------------------

variable "environment" {
  description = "Environment name (dev, staging, prod); selects env/<environment>.tfvars and tags everything."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment))
    error_message = "The environment must be a short lowercase name such as dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region of the environment's account."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as us-west-2."
  }
}

variable "cluster_name" {
  description = "Name of the environment's EKS cluster (idp.yaml clusterName)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,39}$", var.cluster_name))
    error_message = "The cluster_name must start with a letter and hold only letters, digits and hyphens, at most 40 (IAM role names derived from it are limited to 64)."
  }
}

# --- per environment (env/<environment>.tfvars) ----------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the environment's VPC."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "The vpc_cidr must be an IPv4 CIDR block such as 10.10.0.0/16."
  }
}

variable "availability_zones" {
  description = "Availability zones of the subnets. A variable rather than the aws_availability_zones data source, so plans are reproducible (and the emulator, which lacks DescribeAvailabilityZones, can plan)."
  type        = list(string)
}

variable "public_subnet_cidrs" {
  description = "Public subnet CIDRs (load balancers, NAT gateways), one per availability zone, same order."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnet CIDRs (nodes and pods), one per availability zone, same order."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "Share one NAT gateway between all private subnets instead of one per availability zone."
  type        = bool
}

variable "cluster_version" {
  description = "Kubernetes version of the EKS cluster and its node group, e.g. \"1.33\"."
  type        = string
}

variable "cluster_log_types" {
  description = "EKS control plane log types sent to CloudWatch Logs."
  type        = list(string)
  default     = []
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "Networks allowed to reach the cluster's public API endpoint."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node group."
  type        = list(string)
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT."
  type        = string
  default     = "ON_DEMAND"
}

variable "node_disk_size" {
  description = "Root volume size of each node in GiB."
  type        = number
  default     = 20
}

variable "node_min_size" {
  description = "Minimum number of nodes."
  type        = number
}

variable "node_max_size" {
  description = "Maximum number of nodes."
  type        = number
}

variable "node_desired_size" {
  description = "Desired number of nodes."
  type        = number
}

variable "admin_role_arns" {
  description = "IAM roles that get cluster-admin (AmazonEKSClusterAdminPolicy) through EKS access entries. The cluster grants its creator nothing implicitly, so this must include the role idp assumes to install Argo CD."
  type        = list(string)

  validation {
    condition     = length(var.admin_role_arns) > 0 && alltrue([for arn in var.admin_role_arns : can(regex("^arn:aws:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "The admin_role_arns must hold at least one IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "service_namespaces" {
  description = "Namespace of each service in this environment, keyed by service name. Each service's Kubernetes service account is named after the service and gets the ECR read role through EKS Pod Identity."
  type        = map(string)

  validation {
    condition     = alltrue([for ns in values(var.service_namespaces) : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns))])
    error_message = "Every namespace must be a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)."
  }

  validation {
    condition     = alltrue([for svc in keys(var.service_namespaces) : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", svc))])
    error_message = "Every service name must be usable as its Kubernetes service account name (lowercase letters, digits and '-')."
  }
}

variable "ecr_account_id" {
  description = "Account holding the services' ECR repositories (the tooling account). Null lets the pods' role read repositories in any account; the repositories' own policies still decide who may pull."
  type        = string
  default     = null
}

# --- switches for an AWS emulator --------------------------------------------------------
# Each defaults to true, which is what real AWS needs. The sandbox's AWS emulator lacks some APIs;
# it switches off exactly the resources that need them, and nothing else.

variable "enable_nat_gateway" {
  description = "Create NAT gateways, with their Elastic IPs (AllocateAddress), and the private subnets' route tables whose default routes go through them. An emulator without AllocateAddress sets false; the private subnets then use the VPC's main route table and have no route to the internet (nodes there could not pull images or join the cluster on real AWS)."
  type        = bool
  default     = true
}

variable "attach_aws_managed_policies" {
  description = "Attach the AWS-managed policies (arn:aws:iam::aws:policy/AmazonEKSClusterPolicy, AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryReadOnly) with AttachRolePolicy. An emulator that has no AWS-managed policies sets false; the roles then get inline policies (PutRolePolicy) with the same actions instead, so no permission is lost, only AWS's later updates to those policies."
  type        = bool
  default     = true
}

variable "enable_access_entries" {
  description = "Give admin_role_arns cluster-admin through EKS access entries (CreateAccessEntry, AssociateAccessPolicy). An emulator without those APIs sets false; then no IAM principal, not even the cluster's creator, is granted access to the Kubernetes API."
  type        = bool
  default     = true
}

variable "enable_eks_addons" {
  description = "Install the EKS add-ons (CreateAddon): eks-pod-identity-agent. An emulator without CreateAddon sets false; pods then cannot receive Pod Identity credentials."
  type        = bool
  default     = true
}

variable "enable_pod_identity_associations" {
  description = "Bind each service's service account to the ECR read role (CreatePodIdentityAssociation). An emulator without that API sets false; the role and its policy still exist, but no pod receives it."
  type        = bool
  default     = true
}

variable "enable_route_table_associations" {
  description = "Associate each subnet explicitly with its route table (AssociateRouteTable): the public subnets with the one whose default route goes to the internet gateway, the private ones with their NAT route tables. The provider finds an association again through DescribeRouteTables filtered by association.route-table-association-id and needs exactly one route table back. An emulator that ignores DescribeRouteTables filters returns every route table it holds (kumo: those of every environment, since its in-process servers share one EC2 store), so as soon as it holds a second route table the provider cannot find the association it created: creating one waits until it times out, and a refresh loses it, so the next plan creates it again. Such an emulator sets false; every subnet then stays on the VPC's main route table (local traffic only), so on real AWS the public subnets would have no route to the internet."
  type        = bool
  default     = true
}

variable "enable_public_route_table" {
  description = "Give the public subnets their route table with its default route to the internet gateway (CreateRouteTable, CreateRoute; `starter destroy` needs DeleteRoute and DeleteRouteTable). An emulator without those deletes (kumo answers them with an error, so a teardown stops there) sets false; the public subnets then stay on the VPC's main route table, with no route to the internet."
  type        = bool
  default     = true
}
