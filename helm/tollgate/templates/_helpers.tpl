{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "tollgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: release-chart, or the release name alone when it already contains
the chart name.
*/}}
{{- define "tollgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the admin Service; the fullname is cut to leave room for the suffix.
*/}}
{{- define "tollgate.adminName" -}}
{{- printf "%s-admin" (include "tollgate.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "tollgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "tollgate.labels" -}}
helm.sh/chart: {{ include "tollgate.chart" . }}
{{ include "tollgate.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: immutable on a Deployment, so nothing that changes between releases.
*/}}
{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tollgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tollgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference; a digest wins over the tag.
*/}}
{{- define "tollgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The gateway YAML exactly as it is written to the ConfigMap: a string value verbatim, an
object through toYaml. Also hashed into the pod's checksum/config annotation.
*/}}
{{- define "tollgate.configYaml" -}}
{{- if kindIs "string" .Values.config }}
{{- .Values.config }}
{{- else }}
{{- toYaml .Values.config }}
{{- end }}
{{- end }}

{{/*
Cross-checks between the gateway YAML and the chart's own values that the JSON Schema cannot
express (it cannot look inside a config given as a string). Renders nothing; fails the
install with a message instead of deploying pods that can never become ready.
*/}}
{{- define "tollgate.validate" -}}
{{- $cfg := include "tollgate.configYaml" . | fromYaml }}
{{- if hasKey $cfg "Error" }}
{{- fail (printf "config: not valid YAML: %s" $cfg.Error) }}
{{- end }}
{{- range $listener := list "public" "admin" }}
{{- $port := dig "server" $listener "port" "" $cfg }}
{{- $want := get $.Values.containerPorts $listener }}
{{- if and (ne (toString $port) "") (ne (int $port) (int $want)) }}
{{- fail (printf "config server.%s.port is %v but containerPorts.%s is %v; they must match" $listener $port $listener $want) }}
{{- end }}
{{- /* The gateway's own default admin host is loopback, unreachable for the kubelet. */}}
{{- $host := toString (dig "server" $listener "host" (ternary "127.0.0.1" "0.0.0.0" (eq $listener "admin")) $cfg) }}
{{- if or (eq $host "localhost") (eq $host "::1") (hasPrefix "127." $host) }}
{{- fail (printf "config server.%s.host is %s: in a pod it must be 0.0.0.0 (or ::) so probes and Services can reach it" $listener $host) }}
{{- end }}
{{- end }}
{{- if and .Values.hpa.enabled (gt (int .Values.hpa.minReplicas) (int .Values.hpa.maxReplicas)) }}
{{- fail (printf "hpa.minReplicas (%v) is greater than hpa.maxReplicas (%v)" .Values.hpa.minReplicas .Values.hpa.maxReplicas) }}
{{- end }}
{{- $graceMs := dig "server" "shutdownGraceMs" 10000 $cfg }}
{{- if le (int .Values.terminationGracePeriodSeconds | mul 1000) (int $graceMs) }}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must exceed config server.shutdownGraceMs (%v ms), or pods are killed mid-drain" .Values.terminationGracePeriodSeconds $graceMs) }}
{{- end }}
{{- end }}
