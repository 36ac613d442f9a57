terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
  }

  # Partial configuration: idp passes bucket, key, region and use_lockfile with -backend-config.
  backend "s3" {}
}
