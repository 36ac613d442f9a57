{{/*
idp-worker.name is the chart's name, or nameOverride.
*/}}
{{- define "idp-worker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
idp-worker.fullname names every object: fullnameOverride, else the release name when it
already contains the chart's name, else <release>-<name>.
*/}}
{{- define "idp-worker.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "idp-worker.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
idp-worker.selectorLabels identify the worker's pods. They never include the version: a
Deployment's selector cannot change after creation.
*/}}
{{- define "idp-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idp-worker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
idp-worker.labels go on every object and on the pod template.
*/}}
{{- define "idp-worker.labels" -}}
{{ include "idp-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ include "idp-worker.version" . | quote }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: idp
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
idp-worker.tag is image.tag, else the chart's appVersion.
*/}}
{{- define "idp-worker.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/*
idp-worker.version is the image tag made safe for a label value.
*/}}
{{- define "idp-worker.version" -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" (include "idp-worker.tag" .) "_" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/*
idp-worker.image is the reference the container runs: repository:tag, with @digest when one
is given (the digest then decides what runs).
*/}}
{{- define "idp-worker.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "idp-worker.tag" .) -}}
{{- with .Values.image.digest -}}
{{- $ref = printf "%s@%s" $ref . -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/*
idp-worker.serviceAccountName is the service account the pods run as.
*/}}
{{- define "idp-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "idp-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
idp-worker.configMapName is the ConfigMap holding idp.yaml: the chart's own, or
config.existingConfigMap.
*/}}
{{- define "idp-worker.configMapName" -}}
{{- if .Values.config.existingConfigMap -}}
{{- .Values.config.existingConfigMap -}}
{{- else -}}
{{- printf "%s-config" (include "idp-worker.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
idp-worker.intOrString writes a value given as a string or a number: the string as is, the
number as an integer (YAML numbers arrive as floats, and 7654321 would print as 7.654321e+06).
*/}}
{{- define "idp-worker.intOrString" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- printf "%d" (int64 .) -}}
{{- end -}}
{{- end -}}

{{/*
idp-worker.set renders "true" when a value is given: not null and not "" (0 counts as given).
*/}}
{{- define "idp-worker.set" -}}
{{- if not (or (kindIs "invalid" .) (and (kindIs "string" .) (eq . ""))) -}}true{{- end -}}
{{- end -}}
