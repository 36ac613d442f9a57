{{/*
standard-service.name is app.name, checked once here so every template that
names an object fails the same clear way when it is missing or malformed.
*/}}
{{- define "standard-service.name" -}}
{{- $name := required "app.name is required (the service name, e.g. time-service)" .Values.app.name | toString -}}
{{- if or (gt (len $name) 63) (not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name)) -}}
{{- fail (printf "app.name %q must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63 characters" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/*
standard-service.image is app.image, the full reference the container runs.
*/}}
{{- define "standard-service.image" -}}
{{- $image := required "app.image is required (a full image reference, e.g. 864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-abc1234)" .Values.app.image | toString -}}
{{- if regexMatch "\\s" $image -}}
{{- fail (printf "app.image %q must not contain whitespace" $image) -}}
{{- end -}}
{{- $image -}}
{{- end -}}

{{/*
standard-service.imageTag is the tag of app.image, or "" when the image is
pinned by digest only. A ':' counts as a tag separator only after the last
'/', so a registry port (registry:5000/app) is not mistaken for a tag.
*/}}
{{- define "standard-service.imageTag" -}}
{{- $ref := include "standard-service.image" . | splitList "@" | first -}}
{{- $last := splitList "/" $ref | last -}}
{{- if contains ":" $last -}}
{{- splitList ":" $last | last -}}
{{- end -}}
{{- end -}}

{{/*
standard-service.version is the image tag made safe for a label value:
at most 63 characters, starting and ending with an alphanumeric.
*/}}
{{- define "standard-service.version" -}}
{{- $tag := include "standard-service.imageTag" . -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $tag "_" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/*
standard-service.port is app.port as an integer in 1..65535.
*/}}
{{- define "standard-service.port" -}}
{{- $port := required "app.port is required (the port the container listens on)" .Values.app.port -}}
{{- if not (or (kindIs "float64" $port) (kindIs "int" $port) (kindIs "int64" $port)) -}}
{{- fail (printf "app.port must be a number, got %v (%s)" $port (kindOf $port)) -}}
{{- end -}}
{{- if or (ne (float64 (int $port)) (float64 $port)) (lt (int $port) 1) (gt (int $port) 65535) -}}
{{- fail (printf "app.port must be an integer between 1 and 65535, got %v" $port) -}}
{{- end -}}
{{- int $port -}}
{{- end -}}

{{/*
standard-service.replicas is replicas as a non-negative integer.
*/}}
{{- define "standard-service.replicas" -}}
{{- $r := .Values.replicas -}}
{{- if not (or (kindIs "float64" $r) (kindIs "int" $r) (kindIs "int64" $r)) -}}
{{- fail (printf "replicas must be a number, got %v (%s)" $r (kindOf $r)) -}}
{{- end -}}
{{- if or (ne (float64 (int $r)) (float64 $r)) (lt (int $r) 0) -}}
{{- fail (printf "replicas must be a non-negative integer, got %v" $r) -}}
{{- end -}}
{{- int $r -}}
{{- end -}}

{{/*
standard-service.resources maps resourceProfile to requests and limits.
The table lives here, not in values, so every service of one size gets the
same numbers and a typo cannot quietly deploy without limits.
*/}}
{{- define "standard-service.resources" -}}
{{- $small := dict "requests" (dict "cpu" "50m" "memory" "64Mi") "limits" (dict "cpu" "250m" "memory" "128Mi") -}}
{{- $medium := dict "requests" (dict "cpu" "100m" "memory" "128Mi") "limits" (dict "cpu" "500m" "memory" "256Mi") -}}
{{- $large := dict "requests" (dict "cpu" "250m" "memory" "256Mi") "limits" (dict "cpu" "1" "memory" "512Mi") -}}
{{- $profiles := dict "small" $small "medium" $medium "large" $large -}}
{{- $profile := .Values.resourceProfile | default "" | toString -}}
{{- if not (hasKey $profiles $profile) -}}
{{- fail (printf "resourceProfile %q is not known: use one of small, medium, large" $profile) -}}
{{- end -}}
{{- get $profiles $profile | toYaml -}}
{{- end -}}

{{/*
standard-service.selectorLabels identify the pods. They never include the
version: a Deployment's selector cannot change after creation.
*/}}
{{- define "standard-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "standard-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
standard-service.labels go on every object and on the pod template.
*/}}
{{- define "standard-service.labels" -}}
{{ include "standard-service.selectorLabels" . }}
{{- with include "standard-service.version" . }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/component: service
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}
