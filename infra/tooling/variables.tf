variable "repositories" {
  description = "ECR repositories of the tooling account, one per service (e.g. idp/localtime)."
  type        = set(string)
  default     = ["idp/localtime", "idp/version"]
}

variable "enable_image_events" {
  description = "Send ECR push events of the repositories to the idp worker's endpoint through EventBridge (rule, API destination, connection, target). Off by default; the sandbox has no public endpoint and applies no tooling Terraform."
  type        = bool
  default     = false
}

variable "image_events_endpoint" {
  description = "The worker's event URL, https://HOST/events/ecr (imageWatch.events.addr behind your load balancer)."
  type        = string
  default     = ""

  validation {
    condition     = !var.enable_image_events || can(regex("^https://[^/]+/events/ecr$", var.image_events_endpoint))
    error_message = "With enable_image_events, image_events_endpoint must be https://HOST/events/ecr: EventBridge API destinations call HTTPS endpoints only."
  }
}

variable "image_events_header" {
  description = "The header the connection sends the secret in: imageWatch.events.header in idp.yaml."
  type        = string
  default     = "X-Idp-Events-Key"
}

variable "image_events_secret" {
  description = "The shared secret (the worker's $IDP_EVENTS_SECRET). Pass it as TF_VAR_image_events_secret; it is stored in EventBridge's Secrets Manager secret and in the state."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = !var.enable_image_events || length(var.image_events_secret) >= 16
    error_message = "With enable_image_events, image_events_secret must be at least 16 characters (the worker refuses shorter ones): e.g. openssl rand -hex 32."
  }
}

variable "image_event_tag_prefixes" {
  description = "Tags whose pushes are sent: those the environments' entry patterns take (sha-* enters dev, v* staging)."
  type        = list(string)
  default     = ["sha-", "v"]
}
