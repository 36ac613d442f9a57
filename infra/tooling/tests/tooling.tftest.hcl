mock_provider "aws" {}

run "repositories_are_immutable" {
  command = plan

  assert {
    condition     = alltrue([for r in aws_ecr_repository.service : r.image_tag_mutability == "IMMUTABLE"])
    error_message = "Every tooling repository must have IMMUTABLE tags."
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.service : r.image_scanning_configuration[0].scan_on_push])
    error_message = "Every tooling repository scans on push."
  }

  assert {
    condition     = length(aws_ecr_repository.service) == 2
    error_message = "One repository per service."
  }
}
