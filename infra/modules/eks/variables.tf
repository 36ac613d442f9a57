variable "cluster_name" {
  description = "Name of the EKS cluster; also the prefix of its IAM roles."
  type        = string
}

variable "cluster_version" {
  description = "Kubernetes minor version of the control plane and the node group (e.g. \"1.33\")."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.cluster_version))
    error_message = "The cluster_version must look like \"1.33\"."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the nodes."
  type        = list(string)
}

variable "endpoint_public_access_cidrs" {
  description = "Networks allowed to reach the public Kubernetes API endpoint (idp installs Argo CD through it)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "enabled_log_types" {
  description = "Control plane log types sent to CloudWatch Logs (api, audit, authenticator, controllerManager, scheduler)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.enabled_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], t)])
    error_message = "Log types are api, audit, authenticator, controllerManager and scheduler."
  }
}

variable "log_retention_days" {
  description = "Retention of the control plane log group (only created when enabled_log_types is not empty)."
  type        = number
  default     = 30
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node group."
  type        = list(string)
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "The node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_ami_type" {
  description = "AMI type of the managed node group."
  type        = string
  default     = "AL2023_x86_64_STANDARD"
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

variable "admin_principal_arns" {
  description = "IAM roles or users given cluster-admin through EKS access entries (AmazonEKSClusterAdminPolicy, cluster scope)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "Every admin principal must be an IAM role or user ARN."
  }
}

variable "enable_access_entries" {
  description = "Create the access entries and access policy associations of admin_principal_arns. When false, no principal, not even the cluster's creator, is granted access to the Kubernetes API."
  type        = bool
  default     = true
}

variable "addons" {
  description = "EKS add-ons to install, by name, with an optional version (null: the default version for the cluster's Kubernetes version)."
  type = map(object({
    version = optional(string)
  }))
  default = {
    "eks-pod-identity-agent" = {}
  }
}

variable "enable_addons" {
  description = "Install the add-ons in addons."
  type        = bool
  default     = true
}

variable "use_aws_managed_policies" {
  description = "Attach the AWS-managed policies (AmazonEKSClusterPolicy, AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryReadOnly) to the cluster and node roles. When false, the roles get inline policies carrying the same actions instead (a snapshot: unlike the managed policies they do not follow AWS's later changes)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for the cluster, the node group and the IAM roles."
  type        = map(string)
  default     = {}
}
