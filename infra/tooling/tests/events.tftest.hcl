mock_provider "aws" {
  mock_resource "aws_cloudwatch_event_connection" {
    defaults = {
      arn = "arn:aws:events:us-west-2:864992049050:connection/idp-worker/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_cloudwatch_event_api_destination" {
    defaults = {
      arn = "arn:aws:events:us-west-2:864992049050:api-destination/idp-worker-ecr-push/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:us-west-2:864992049050:rule/idp-ecr-push"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::864992049050:role/idp-ecr-push-events"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"events.amazonaws.com\"}}]}"
    }
  }
}

run "off_by_default" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_event_rule.ecr_push) == 0 && length(aws_cloudwatch_event_connection.idp) == 0 && length(aws_cloudwatch_event_target.idp) == 0
    error_message = "Without enable_image_events nothing about events is created."
  }
}

run "pushes_go_to_the_worker" {
  command = apply

  variables {
    enable_image_events   = true
    image_events_endpoint = "https://idp.example.com/events/ecr"
    image_events_secret   = "0123456789abcdef0123456789abcdef"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.ecr_push[0].event_pattern) == {
      source        = ["aws.ecr"]
      "detail-type" = ["ECR Image Action"]
      detail = {
        "action-type"     = ["PUSH"]
        result            = ["SUCCESS"]
        "repository-name" = ["idp/localtime", "idp/version"]
        "image-tag"       = [{ prefix = "sha-" }, { prefix = "v" }]
      }
    }
    error_message = "The rule matches successful pushes of the services' sha-*/v* tags only."
  }

  assert {
    condition     = aws_cloudwatch_event_connection.idp[0].authorization_type == "API_KEY" && aws_cloudwatch_event_connection.idp[0].auth_parameters[0].api_key[0].key == "X-Idp-Events-Key"
    error_message = "The connection sends the secret in the worker's header."
  }

  assert {
    condition     = aws_cloudwatch_event_api_destination.idp[0].invocation_endpoint == "https://idp.example.com/events/ecr" && aws_cloudwatch_event_api_destination.idp[0].http_method == "POST"
    error_message = "The API destination POSTs to the worker's endpoint."
  }

  assert {
    condition     = aws_cloudwatch_event_target.idp[0].arn == aws_cloudwatch_event_api_destination.idp[0].arn && aws_cloudwatch_event_target.idp[0].role_arn == aws_iam_role.events_invoke[0].arn
    error_message = "The rule's target is the API destination, invoked with the events role."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.events_invoke[0].policy).Statement[0].Action == "events:InvokeApiDestination" && jsondecode(aws_iam_role_policy.events_invoke[0].policy).Statement[0].Resource == aws_cloudwatch_event_api_destination.idp[0].arn
    error_message = "The role may invoke exactly that API destination."
  }

  assert {
    condition     = output.image_events_rule_arn == "arn:aws:events:us-west-2:864992049050:rule/idp-ecr-push"
    error_message = "The rule's ARN is an output."
  }
}

run "an_http_endpoint_is_refused" {
  command = plan

  variables {
    enable_image_events   = true
    image_events_endpoint = "http://idp.example.com/events/ecr"
    image_events_secret   = "0123456789abcdef0123456789abcdef"
  }

  expect_failures = [var.image_events_endpoint]
}

run "a_short_secret_is_refused" {
  command = plan

  variables {
    enable_image_events   = true
    image_events_endpoint = "https://idp.example.com/events/ecr"
    image_events_secret   = "short"
  }

  expect_failures = [var.image_events_secret]
}
