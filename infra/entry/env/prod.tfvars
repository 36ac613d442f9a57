# prod: account 316762121478. environment, region and cluster_name come from idp
# (idp-prod, us-west-2); the sandbox's switches too: do not set them here, a -var-file
# overrides *.auto.tfvars.json.

vpc_cidr             = "10.30.0.0/16"
availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
public_subnet_cidrs  = ["10.30.0.0/24", "10.30.1.0/24", "10.30.2.0/24"]
private_subnet_cidrs = ["10.30.32.0/19", "10.30.64.0/19", "10.30.96.0/19"]
single_nat_gateway   = false # one NAT gateway per zone: losing a zone never cuts the others off

cluster_version   = "1.33"
cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

node_instance_types = ["m6i.large"]
node_capacity_type  = "ON_DEMAND"
node_disk_size      = 50
node_min_size       = 3
node_desired_size   = 3
node_max_size       = 6

# GitHubActionsRole for people and CI; OrganizationAccountAccessRole is the role idp assumes
# (idp.yaml environments[].aws.assumeRole) to run terraform and install Argo CD.
admin_role_arns = [
  "arn:aws:iam::316762121478:role/GitHubActionsRole",
  "arn:aws:iam::316762121478:role/OrganizationAccountAccessRole",
]

# Tooling account holding the ECR repositories (idp.yaml tooling.aws.accountId).
ecr_account_id = "864992049050"

service_namespaces = {
  "time-service"    = "time-service-prod"
  "version-service" = "version-service-prod"
}
