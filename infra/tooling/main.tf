# The tooling account's image repositories. Tags are IMMUTABLE: a release tag (v1.2.3) that
# people approved can never be pushed over with another image. idp pins manifests by digest
# and refuses a tag whose digest moved, so this is the registry's half of the same promise.
resource "aws_ecr_repository" "service" {
  for_each = var.repositories

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

output "repository_urls" {
  description = "Repository URLs by name."
  value       = { for name, repo in aws_ecr_repository.service : name => repo.repository_url }
}
