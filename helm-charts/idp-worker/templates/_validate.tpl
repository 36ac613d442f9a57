{{/*
idp-worker.validate checks what values.schema.json cannot say well: required values and the
rules that tie two values together. It reports every problem at once, each with its fix, and
renders nothing when all is well. deployment.yaml includes it, so every render runs it.
*/}}
{{- define "idp-worker.validate" -}}
{{- $v := .Values -}}
{{- $errs := list -}}

{{- if not $v.image.repository -}}
{{- $errs = append $errs "image.repository is required: the worker image built from idp's Dockerfile, e.g. 864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/worker" -}}
{{- else if contains ":" (splitList "/" $v.image.repository | last) -}}
{{- $errs = append $errs (printf "image.repository %q has a tag: give the repository alone and the tag in image.tag (a digest in image.digest)" $v.image.repository) -}}
{{- end -}}

{{- if not $v.temporal.address -}}
{{- $errs = append $errs "temporal.address is required: the Temporal frontend's host:port, e.g. temporal-frontend.temporal.svc.cluster.local:7233" -}}
{{- end -}}

{{- $c := $v.config -}}
{{- if and $c.idpYaml $c.existingConfigMap -}}
{{- $errs = append $errs "config.idpYaml and config.existingConfigMap are both set: give idp.yaml one way only" -}}
{{- else if not (or $c.idpYaml $c.existingConfigMap) -}}
{{- $errs = append $errs "idp.yaml is missing: set config.idpYaml to its content (--set-file config.idpYaml=idp.yaml) or config.existingConfigMap to a ConfigMap holding it" -}}
{{- else if $c.idpYaml -}}
{{- $parsed := fromYaml $c.idpYaml -}}
{{- if hasKey $parsed "Error" -}}
{{- $errs = append $errs (printf "config.idpYaml is not YAML: %s" (get $parsed "Error")) -}}
{{- else if not (hasKey $parsed "environments") -}}
{{- $errs = append $errs "config.idpYaml has no environments: it must be idp's idp.yaml (repository, tooling, environments, ...)" -}}
{{- end -}}
{{- end -}}

{{- $tls := $v.temporal.tls -}}
{{- if $tls.enabled -}}
{{- if not $tls.existingSecret -}}
{{- $errs = append $errs "temporal.tls.enabled is true but temporal.tls.existingSecret is empty: name the Secret holding the client certificate, its key and/or the server's CA" -}}
{{- end -}}
{{- if ne (empty $tls.certKey) (empty $tls.keyKey) -}}
{{- $errs = append $errs "temporal.tls.certKey and temporal.tls.keyKey go together: mTLS needs the client certificate and its key (set both to \"\" for server-only TLS)" -}}
{{- end -}}
{{- if and (empty $tls.certKey) (empty $tls.caKey) -}}
{{- $errs = append $errs "temporal.tls has neither a client certificate (certKey, keyKey) nor a CA (caKey): there is nothing to mount; for TLS with the system's roots set TEMPORAL_TLS=true in extraEnv instead" -}}
{{- end -}}
{{- else if $tls.existingSecret -}}
{{- $errs = append $errs "temporal.tls.existingSecret is set but temporal.tls.enabled is false: set enabled: true to use it" -}}
{{- end -}}

{{- $app := $v.git.githubApp -}}
{{- if $app.appId -}}
{{- if not $app.installationId -}}
{{- $errs = append $errs "git.githubApp.appId is set but git.githubApp.installationId is not: the worker acts as the App's installation on the platform repository's owner" -}}
{{- end -}}
{{- if not $app.existingSecret -}}
{{- $errs = append $errs "git.githubApp.appId is set but git.githubApp.existingSecret is not: name the Secret holding the App's private key" -}}
{{- end -}}
{{- else if or $app.installationId $app.existingSecret -}}
{{- $errs = append $errs "git.githubApp.installationId or existingSecret is set but git.githubApp.appId is not: the worker uses the App only with its ID" -}}
{{- end -}}

{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.enabled) -}}
{{- $errs = append $errs "metrics.serviceMonitor.enabled is true but metrics.enabled is false: the ServiceMonitor would have nothing to scrape" -}}
{{- end -}}
{{- if $v.events.enabled -}}
{{- if not $v.events.secret.existingSecret -}}
{{- $errs = append $errs "events.enabled is true but events.secret.existingSecret is empty: name the Secret holding the shared secret EventBridge's connection sends (kubectl create secret generic idp-events --from-literal=events-secret=...)" -}}
{{- end -}}
{{- if eq (int $v.events.port) (int $v.health.port) -}}
{{- $errs = append $errs (printf "events.port and health.port are both %d: the worker serves them on separate listeners" (int $v.health.port)) -}}
{{- end -}}
{{- if and $v.metrics.enabled (eq (int $v.events.port) (int $v.metrics.port)) -}}
{{- $errs = append $errs (printf "events.port and metrics.port are both %d: the worker serves them on separate listeners" (int $v.metrics.port)) -}}
{{- end -}}
{{- end -}}
{{- if and $v.metrics.enabled (eq (int $v.metrics.port) (int $v.health.port)) -}}
{{- $errs = append $errs (printf "metrics.port and health.port are both %d: the worker serves them on separate listeners" (int $v.health.port)) -}}
{{- end -}}

{{- if and (not $v.serviceAccount.create) (not $v.serviceAccount.name) -}}
{{- $errs = append $errs "serviceAccount.create is false but serviceAccount.name is empty: name the existing service account the pods run as" -}}
{{- end -}}

{{- $pdb := $v.podDisruptionBudget -}}
{{- if $pdb.enabled -}}
{{- $min := $pdb.minAvailable -}}
{{- $max := $pdb.maxUnavailable -}}
{{- if include "idp-worker.set" $min -}}
{{- if and (not (kindIs "string" $min)) (ge (int $min) (int $v.replicaCount)) -}}
{{- $errs = append $errs (printf "podDisruptionBudget.minAvailable (%d) is not below replicaCount (%d): no worker could ever be evicted and node drains would hang; lower it or raise replicaCount" (int $min) (int $v.replicaCount)) -}}
{{- end -}}
{{- else if not (include "idp-worker.set" $max) -}}
{{- $errs = append $errs "podDisruptionBudget.enabled is true but neither minAvailable nor maxUnavailable is set" -}}
{{- else if and (not (kindIs "string" $max)) (eq (int $max) 0) -}}
{{- $errs = append $errs "podDisruptionBudget.maxUnavailable is 0: no worker could ever be evicted and node drains would hang; use 1 or more" -}}
{{- end -}}
{{- end -}}

{{- /* The variables the chart sets itself, with the value that sets each: the same name in
       extraEnv would silently override (or be overridden by) the chart's. */}}
{{- $owned := dict "IDP_CONFIG" "config.mountPath" "TEMPORAL_ADDRESS" "temporal.address" "TEMPORAL_NAMESPACE" "temporal.namespace"
      "TEMPORAL_API_KEY" "temporal.apiKey" "IDP_GIT_TOKEN" "git.token" "IDP_GITHUB_APP_ID" "git.githubApp"
      "IDP_GITHUB_APP_INSTALLATION_ID" "git.githubApp" "IDP_GITHUB_APP_PRIVATE_KEY_FILE" "git.githubApp"
      "IDP_GITHUB_API_URL" "git.apiURL" "IDP_GIT_AUTHOR_NAME" "git.author" "IDP_GIT_AUTHOR_EMAIL" "git.author"
      "IDP_HEALTH_ADDR" "health.port" "IDP_METRICS_ADDR" "metrics.port" "HOME" "workDir.mountPath" "TMPDIR" "tmpDir" -}}
{{- if $tls.enabled -}}
{{- range list "TEMPORAL_TLS" "TEMPORAL_TLS_CLIENT_CERT_PATH" "TEMPORAL_TLS_CLIENT_KEY_PATH" "TEMPORAL_TLS_SERVER_CA_CERT_PATH" "TEMPORAL_TLS_SERVER_NAME" -}}
{{- $_ := set $owned . "temporal.tls" -}}
{{- end -}}
{{- end -}}
{{- range $v.extraEnv -}}
{{- if hasKey $owned .name -}}
{{- $errs = append $errs (printf "extraEnv sets %s, which the chart sets from %s: set that value instead" .name (get $owned .name)) -}}
{{- else if and (has .name (list "GITHUB_TOKEN" "TEMPORAL_TLS_CLIENT_KEY_DATA")) (hasKey . "value") -}}
{{- $errs = append $errs (printf "extraEnv %s has a literal value: a secret in values is kept in the release's history and the pod spec; put it in a Secret and use valueFrom.secretKeyRef (for the Git token: git.token.existingSecret)" .name) -}}
{{- end -}}
{{- end -}}

{{- if $errs -}}
{{- fail (printf "invalid values for idp-worker:\n- %s" (join "\n- " $errs)) -}}
{{- end -}}
{{- end -}}
