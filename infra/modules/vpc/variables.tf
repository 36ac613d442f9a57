variable "name" {
  description = "Name prefix for every network resource (the cluster name)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster that uses this network; subnets carry its kubernetes.io/cluster tag so the cluster and its load balancer controller can discover them."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "The cidr_block must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over, one public and one private subnet each. Taken as input (not from DescribeAvailabilityZones) so the plan is the same everywhere."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "EKS needs at least two distinct availability zones."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets, in the order of availability_zones."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry of public_subnet_cidrs must be a valid IPv4 CIDR block."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets (nodes), in the order of availability_zones."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry of private_subnet_cidrs must be a valid IPv4 CIDR block."
  }
}

variable "enable_nat_gateway" {
  description = "Give the private subnets outbound internet access through NAT gateways (each with an Elastic IP) and per-zone private route tables pointing at them. Without it, the private subnets use the VPC's main route table (local traffic only) and nodes there cannot reach the internet."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all private subnets (cheaper) instead of one per availability zone (survives the loss of a zone)."
  type        = bool
  default     = false
}

variable "enable_route_table_associations" {
  description = "Associate every subnet explicitly with its route table (public: the internet gateway's; private: its zone's NAT route table). Without it the subnets stay on the VPC's main route table (local traffic only), even where the route tables and their routes exist. Only for an emulator whose DescribeRouteTables ignores the association.route-table-association-id filter, which keeps the provider from finding the associations it creates."
  type        = bool
  default     = true
}

variable "enable_public_route_table" {
  description = "Give the public subnets their route table with its default route to the internet gateway (CreateRouteTable, CreateRoute; destroying the env needs DeleteRoute and DeleteRouteTable). Only for an emulator without those deletes (kumo), so that a sandbox env can be destroyed; without it the public subnets stay on the VPC's main route table (local traffic only)."
  type        = bool
  default     = true
}
