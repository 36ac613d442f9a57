# staging: account 470879558261. environment, region and cluster_name come from idp
# (idp-staging, us-west-2); the sandbox's switches too: do not set them here, a -var-file
# overrides *.auto.tfvars.json.

vpc_cidr             = "10.20.0.0/16"
availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
public_subnet_cidrs  = ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"]
private_subnet_cidrs = ["10.20.32.0/19", "10.20.64.0/19", "10.20.96.0/19"]
single_nat_gateway   = true

cluster_version   = "1.33"
cluster_log_types = ["api", "audit"]

node_instance_types = ["t3.large"]
node_capacity_type  = "ON_DEMAND"
node_disk_size      = 30
node_min_size       = 2
node_desired_size   = 2
node_max_size       = 4

# GitHubActionsRole for people and CI; OrganizationAccountAccessRole is the role idp assumes
# (idp.yaml environments[].aws.assumeRole) to run terraform and install Argo CD.
admin_role_arns = [
  "arn:aws:iam::470879558261:role/GitHubActionsRole",
  "arn:aws:iam::470879558261:role/OrganizationAccountAccessRole",
]

# Tooling account holding the ECR repositories (idp.yaml tooling.aws.accountId).
ecr_account_id = "864992049050"

service_namespaces = {
  "time-service"    = "time-service-staging"
  "version-service" = "version-service-staging"
}
