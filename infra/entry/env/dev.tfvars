# dev: account 935743309409. environment, region and cluster_name come from idp
# (idp-dev, us-west-2); the sandbox's switches too: do not set them here, a -var-file
# overrides *.auto.tfvars.json.

vpc_cidr             = "10.10.0.0/16"
availability_zones   = ["us-west-2a", "us-west-2b"]
public_subnet_cidrs  = ["10.10.0.0/24", "10.10.1.0/24"]
private_subnet_cidrs = ["10.10.32.0/19", "10.10.64.0/19"]
single_nat_gateway   = true

cluster_version   = "1.33"
cluster_log_types = []

node_instance_types = ["t3.medium", "t3a.medium"]
node_capacity_type  = "SPOT"
node_disk_size      = 20
node_min_size       = 1
node_desired_size   = 2
node_max_size       = 3

# GitHubActionsRole for people and CI; OrganizationAccountAccessRole is the role idp assumes
# (idp.yaml environments[].aws.assumeRole) to run terraform and install Argo CD.
admin_role_arns = [
  "arn:aws:iam::935743309409:role/GitHubActionsRole",
  "arn:aws:iam::935743309409:role/OrganizationAccountAccessRole",
]

# Tooling account holding the ECR repositories (idp.yaml tooling.aws.accountId).
ecr_account_id = "864992049050"

service_namespaces = {
  "time-service"    = "time-service-dev"
  "version-service" = "version-service-dev"
}
