# ECR push events → the idp worker. Every successful push of a service's tag (sha-* or v*) in
# the tooling account goes, through an EventBridge API destination, to the worker's
# POST /events/ecr, which starts the tag's promotion (README: Hands-off delivery). The
# connection sends the shared secret in a header (API key authorization); EventBridge keeps it
# in Secrets Manager. Off by default: set enable_image_events, image_events_endpoint and
# TF_VAR_image_events_secret (never in a committed .tfvars).

locals {
  image_events = var.enable_image_events ? 1 : 0
}

resource "aws_cloudwatch_event_rule" "ecr_push" {
  count       = local.image_events
  name        = "idp-ecr-push"
  description = "A service image pushed to the tooling ECR: idp promotes it."
  event_pattern = jsonencode({
    source        = ["aws.ecr"]
    "detail-type" = ["ECR Image Action"]
    detail = {
      "action-type"     = ["PUSH"]
      result            = ["SUCCESS"]
      "repository-name" = sort(tolist(var.repositories))
      "image-tag"       = [for p in var.image_event_tag_prefixes : { prefix = p }]
    }
  })
}

resource "aws_cloudwatch_event_connection" "idp" {
  count              = local.image_events
  name               = "idp-worker"
  description        = "The idp worker's event endpoint: the shared secret in a header."
  authorization_type = "API_KEY"

  auth_parameters {
    api_key {
      key   = var.image_events_header
      value = var.image_events_secret
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "idp" {
  count                            = local.image_events
  name                             = "idp-worker-ecr-push"
  description                      = "POST /events/ecr of the idp worker."
  invocation_endpoint              = var.image_events_endpoint
  http_method                      = "POST"
  invocation_rate_limit_per_second = 10
  connection_arn                   = aws_cloudwatch_event_connection.idp[0].arn
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "events_invoke" {
  count              = local.image_events
  name               = "idp-ecr-push-events"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

resource "aws_iam_role_policy" "events_invoke" {
  count = local.image_events
  name  = "invoke-idp-api-destination"
  role  = aws_iam_role.events_invoke[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:InvokeApiDestination"
      Resource = aws_cloudwatch_event_api_destination.idp[0].arn
    }]
  })
}

resource "aws_cloudwatch_event_target" "idp" {
  count     = local.image_events
  rule      = aws_cloudwatch_event_rule.ecr_push[0].name
  target_id = "idp-worker"
  arn       = aws_cloudwatch_event_api_destination.idp[0].arn
  role_arn  = aws_iam_role.events_invoke[0].arn

  # The worker answers 5xx only when Temporal is unreachable; EventBridge retries those (and
  # 429) for up to an hour. A refusal (4xx, a redelivery's 409 included) is final. The poll
  # catches whatever never arrives.
  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 20
  }
}

output "image_events_rule_arn" {
  description = "The EventBridge rule sending ECR pushes to the idp worker (null when off)."
  value       = one(aws_cloudwatch_event_rule.ecr_push[*].arn)
}
