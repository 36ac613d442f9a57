# What the configuration refuses before anything reaches AWS. Self-contained (plain
# `terraform test` in infra/entry runs it); the per-environment suites live in tests/<env>/ and
# need their env/<env>.tfvars, see README.md.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment          = "test"
  region               = "us-west-2"
  cluster_name         = "idp-test"
  vpc_cidr             = "10.99.0.0/16"
  availability_zones   = ["us-west-2a", "us-west-2b"]
  public_subnet_cidrs  = ["10.99.0.0/24", "10.99.1.0/24"]
  private_subnet_cidrs = ["10.99.32.0/19", "10.99.64.0/19"]
  single_nat_gateway   = true
  cluster_version      = "1.33"
  node_instance_types  = ["t3.medium"]
  node_min_size        = 1
  node_desired_size    = 1
  node_max_size        = 2
  admin_role_arns      = ["arn:aws:iam::111122223333:role/GitHubActionsRole"]
  service_namespaces   = { "time-service" = "time-service-test" }
}

run "valid_inputs_plan" {
  command = plan

  assert {
    condition     = output.cluster_name == "idp-test"
    error_message = "A valid set of inputs must plan."
  }
}

run "rejects_bad_environment" {
  command = plan

  variables {
    environment = "Prod Env"
  }

  expect_failures = [var.environment]
}

run "rejects_bad_region" {
  command = plan

  variables {
    region = "oregon"
  }

  expect_failures = [var.region]
}

run "rejects_bad_cluster_name" {
  command = plan

  variables {
    cluster_name = "idp_dev"
  }

  expect_failures = [var.cluster_name]
}

run "rejects_zones_outside_the_region" {
  command = plan

  variables {
    region = "us-east-1"
  }

  expect_failures = [output.vpc_id]
}

run "rejects_bad_vpc_cidr" {
  command = plan

  variables {
    vpc_cidr = "10.99.0.0"
  }

  expect_failures = [var.vpc_cidr]
}

run "rejects_admin_that_is_not_a_role_arn" {
  command = plan

  variables {
    admin_role_arns = ["GitHubActionsRole"]
  }

  expect_failures = [var.admin_role_arns]
}

run "rejects_no_admin" {
  command = plan

  variables {
    admin_role_arns = []
  }

  expect_failures = [var.admin_role_arns]
}

run "rejects_bad_namespace" {
  command = plan

  variables {
    service_namespaces = { "time-service" = "Time_Service" }
  }

  expect_failures = [var.service_namespaces]
}

# The modules check what their own variables cannot (relations between variables).

run "vpc_rejects_missing_subnet_cidr" {
  command = plan

  module {
    source = "../modules/vpc"
  }

  variables {
    name                 = "idp-test"
    cidr_block           = "10.99.0.0/16"
    private_subnet_cidrs = ["10.99.32.0/19"]
  }

  expect_failures = [aws_vpc.this]
}

run "eks_rejects_desired_size_outside_min_max" {
  command = plan

  module {
    source = "../modules/eks"
  }

  variables {
    subnet_ids        = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    node_desired_size = 5
  }

  expect_failures = [aws_eks_node_group.default]
}
