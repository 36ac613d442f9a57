# The prod environment as idp plans it, against a mocked AWS provider:
#   terraform test -test-directory=tests/prod -var-file=env/prod.tfvars
# (run from infra/entry; the other values of env/prod.tfvars come from that -var-file, so these
# assertions check the file idp really uses.)

mock_provider "aws" {
  source = "./tests/mocks"
}

# What idp passes in its generated *.auto.tfvars.json.
variables {
  environment  = "prod"
  region       = "us-west-2"
  cluster_name = "idp-prod"
}

run "full" {
  command = apply

  # network: three zones, a NAT gateway in each
  assert {
    condition     = module.vpc.vpc_cidr_block == "10.30.0.0/16"
    error_message = "prod's VPC must be 10.30.0.0/16."
  }

  assert {
    condition     = sort(keys(module.vpc.public_subnets)) == sort(["us-west-2a", "us-west-2b", "us-west-2c"]) && sort(keys(module.vpc.private_subnets)) == sort(["us-west-2a", "us-west-2b", "us-west-2c"])
    error_message = "prod must have one public and one private subnet in each of us-west-2a, b and c."
  }

  assert {
    condition = alltrue([for s in values(module.vpc.public_subnets) :
      s.tags["kubernetes.io/role/elb"] == "1" && s.tags["kubernetes.io/cluster/idp-prod"] == "shared" && s.map_public_ip_on_launch == true
    ])
    error_message = "Public subnets must be tagged for internet-facing load balancers and the idp-prod cluster."
  }

  assert {
    condition = alltrue([for s in values(module.vpc.private_subnets) :
      s.tags["kubernetes.io/role/internal-elb"] == "1" && s.tags["kubernetes.io/cluster/idp-prod"] == "shared" && s.map_public_ip_on_launch != true
    ])
    error_message = "Private subnets must be tagged for internal load balancers and the idp-prod cluster, without public IPs."
  }

  assert {
    condition     = sort(keys(module.vpc.nat_gateway_ids)) == sort(["us-west-2a", "us-west-2b", "us-west-2c"]) && length(module.vpc.nat_public_ips) == 3
    error_message = "prod must have a NAT gateway (with its own Elastic IP) in every zone."
  }

  assert {
    condition     = alltrue([for az in ["us-west-2a", "us-west-2b", "us-west-2c"] : module.vpc.private_egress[az] == module.vpc.nat_gateway_ids[az]]) && length(distinct(values(module.vpc.private_egress))) == 3
    error_message = "Each private subnet must route through the NAT gateway of its own zone, so losing a zone cuts no other off."
  }

  assert {
    condition     = module.vpc.internet_route
    error_message = "The public route table must route to the internet gateway."
  }

  assert {
    condition     = length(module.vpc.private_route_table_ids) == 3 && module.vpc.route_table_association_count == 6
    error_message = "Every subnet must be associated with its route table (1 public table, 3 private ones)."
  }

  assert {
    condition = length(module.vpc.subnet_route_tables) == 6 && alltrue([for az in ["us-west-2a", "us-west-2b", "us-west-2c"] :
      module.vpc.subnet_route_tables[module.vpc.public_subnets[az].id] == module.vpc.public_route_table_id && module.vpc.subnet_route_tables[module.vpc.private_subnets[az].id] == module.vpc.private_route_table_ids[az]
    ])
    error_message = "Each public subnet must be associated with the public route table and each private subnet with its own zone's route table."
  }

  # cluster
  assert {
    condition     = output.cluster_name == "idp-prod" && module.eks.cluster_version == "1.33"
    error_message = "The prod cluster is idp-prod on Kubernetes 1.33."
  }

  assert {
    condition     = output.cluster_endpoint == "https://MOCK0123456789.gr7.us-west-2.eks.amazonaws.com" && output.cluster_certificate_authority == "TU9DSy1DQS1DRVJUSUZJQ0FURQ=="
    error_message = "The outputs must carry the cluster's endpoint and base64 CA data."
  }

  assert {
    condition     = toset(module.eks.cluster_subnet_ids) == toset(output.private_subnet_ids) && toset(module.eks.node_group.subnet_ids) == toset(output.private_subnet_ids)
    error_message = "Control plane interfaces and nodes must be in the private subnets."
  }

  assert {
    condition     = module.eks.authentication_mode == "API"
    error_message = "The cluster must use access entries (authentication mode API)."
  }

  assert {
    condition     = sort(module.eks.enabled_log_types) == sort(["api", "audit", "authenticator", "controllerManager", "scheduler"]) && module.eks.log_group_name == "/aws/eks/idp-prod/cluster"
    error_message = "prod sends every control plane log type to its own log group."
  }

  assert {
    condition     = module.eks.node_group.capacity_type == "ON_DEMAND" && module.eks.node_group.instance_types == tolist(["m6i.large"]) && module.eks.node_group.min_size == 3 && module.eks.node_group.desired_size == 3 && module.eks.node_group.max_size == 6
    error_message = "prod runs 3-6 on-demand m6i.large nodes, never spot."
  }

  # permissions: the AWS-managed policies, attached
  assert {
    condition     = module.eks.role_permissions.cluster.managed == tolist(["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]) && length(module.eks.role_permissions.cluster.inline) == 0
    error_message = "The cluster role must have AmazonEKSClusterPolicy attached and no inline copy."
  }

  assert {
    condition = module.eks.role_permissions.node.managed == tolist([
      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
      "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]) && length(module.eks.role_permissions.node.inline) == 0
    error_message = "The node role must have the worker node, CNI and ECR read-only policies attached."
  }

  # access entries
  assert {
    condition = jsonencode(module.eks.admin_access) == jsonencode({
      "arn:aws:iam::316762121478:role/GitHubActionsRole" = {
        type     = "STANDARD"
        policies = ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy@cluster"]
      }
      "arn:aws:iam::316762121478:role/OrganizationAccountAccessRole" = {
        type     = "STANDARD"
        policies = ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy@cluster"]
      }
    })
    error_message = "prod's GitHubActionsRole and OrganizationAccountAccessRole must be cluster admins, and nobody else."
  }

  # add-ons and pod identity
  assert {
    condition     = sort(keys(module.eks.addons)) == sort(["eks-pod-identity-agent"])
    error_message = "The EKS Pod Identity agent add-on must be installed."
  }

  assert {
    condition = jsonencode(module.ecr_pod_identity.associations) == jsonencode({
      "time-service"    = { namespace = "time-service-prod", service_account = "time-service", role_arn = module.ecr_pod_identity.role_arn }
      "version-service" = { namespace = "version-service-prod", service_account = "version-service", role_arn = module.ecr_pod_identity.role_arn }
    })
    error_message = "Each service's service account in its -prod namespace must be bound to the ECR read role."
  }

  assert {
    condition = jsondecode(module.ecr_pod_identity.assume_role_policy).Statement[0].Principal.Service == "pods.eks.amazonaws.com" && jsondecode(module.ecr_pod_identity.assume_role_policy).Statement[0].Condition.StringEquals == jsondecode(jsonencode({
      "aws:RequestTag/eks-cluster-name"           = "idp-prod"
      "aws:RequestTag/kubernetes-namespace"       = ["time-service-prod", "version-service-prod"]
      "aws:RequestTag/kubernetes-service-account" = ["time-service", "version-service"]
    }))
    error_message = "The ECR read role must trust only EKS Pod Identity for idp-prod's service namespaces and accounts."
  }

  assert {
    condition     = jsondecode(module.ecr_pod_identity.permissions_policy).Statement[1].Resource == "arn:aws:ecr:*:864992049050:repository/*"
    error_message = "The pods may read the tooling account's repositories."
  }
}

# The same environment as the sandbox plans it: only the resources whose APIs the emulator
# lacks (or, for the route table associations, answers wrongly) are gone, and the permissions
# of the AWS-managed policies are still there, inline.
run "sandbox" {
  command = apply

  variables {
    enable_nat_gateway               = false
    attach_aws_managed_policies      = false
    enable_access_entries            = false
    enable_eks_addons                = false
    enable_pod_identity_associations = false
    enable_route_table_associations  = false
    enable_public_route_table        = false
  }

  assert {
    condition     = !module.vpc.internet_route
    error_message = "Without DeleteRoute and DeleteRouteTable in the emulator there is no public route table or route, so the env can be destroyed."
  }

  assert {
    condition     = length(module.vpc.nat_gateway_ids) == 0 && length(module.vpc.nat_public_ips) == 0 && length(module.vpc.private_egress) == 0
    error_message = "Without AllocateAddress there are no Elastic IPs, NAT gateways or NAT routes."
  }

  assert {
    condition     = length(module.vpc.private_route_table_ids) == 0 && module.vpc.route_table_association_count == 0 && length(module.vpc.subnet_route_tables) == 0
    error_message = "Without NAT there are no private route tables, and without route table associations every subnet stays on the VPC's main route table."
  }

  assert {
    condition     = module.vpc.public_route_table_id == "" && output.vpc_id != ""
    error_message = "The VPC exists without the public route table."
  }

  assert {
    condition     = length(output.private_subnet_ids) == 3 && length(output.public_subnet_ids) == 3
    error_message = "The subnets themselves must not depend on the switches."
  }

  assert {
    condition     = length(module.eks.role_permissions.cluster.managed) == 0 && length(module.eks.role_permissions.node.managed) == 0
    error_message = "No AWS-managed policy may be attached."
  }

  assert {
    condition     = sort(keys(module.eks.role_permissions.cluster.inline)) == sort(["AmazonEKSClusterPolicy"]) && sort(keys(module.eks.role_permissions.node.inline)) == sort(["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"])
    error_message = "Each AWS-managed policy must be replaced by an inline equivalent."
  }

  assert {
    condition = alltrue([
      for action in ["eks:DescribeCluster", "eks-auth:AssumeRoleForPodIdentity", "ec2:CreateNetworkInterface", "ecr:BatchGetImage", "ecr:GetAuthorizationToken"] :
      anytrue([for doc in values(module.eks.role_permissions.node.inline) : contains(flatten([for st in jsondecode(doc).Statement : st.Action]), action)])
    ])
    error_message = "The node role's inline policies must carry the worker node, CNI and ECR pull actions."
  }

  assert {
    condition     = length(module.eks.admin_access) == 0 && length(module.eks.addons) == 0 && length(module.ecr_pod_identity.associations) == 0
    error_message = "Access entries, add-ons and pod identity associations must be switched off."
  }

  assert {
    condition     = module.ecr_pod_identity.role_arn != "" && module.eks.node_group.min_size > 0 && output.cluster_name == "idp-prod"
    error_message = "The cluster, its node group and the ECR read role must still exist."
  }
}
