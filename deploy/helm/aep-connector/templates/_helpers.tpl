{{/* Names and labels, as `helm create` lays them out. */}}
{{- define "aep-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aep-connector.fullname" -}}
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

{{- define "aep-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aep-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aep-connector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aep-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: connector
{{- end }}

{{- define "aep-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aep-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aep-connector.configMapName" -}}
{{- default (include "aep-connector.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{- define "aep-connector.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the container reads its config: the config volume's mount and the file `run -c` names. */}}
{{- define "aep-connector.configDir" -}}/etc/aep-connector{{- end }}
{{- define "aep-connector.configFile" -}}{{ include "aep-connector.configDir" . }}/connector.yaml{{- end }}

{{/* The connector config as mounted: the values' config, with the metrics endpoint the probes use. */}}
{{- define "aep-connector.connectorYaml" -}}
{{- $config := deepCopy .Values.config }}
{{- $observability := merge (dict "metrics_host" "0.0.0.0" "metrics_port" (int .Values.metrics.port)) (default (dict) $config.observability) }}
{{- $_ := set $observability "metrics_host" "0.0.0.0" }}
{{- $_ := set $observability "metrics_port" (int .Values.metrics.port) }}
{{- $_ := set $config "observability" $observability }}
{{- toYaml $config }}
{{- end }}

{{/* Replicas beyond the partition count get no partitions: refuse them when the count is known. */}}
{{- define "aep-connector.validate" -}}
{{- $a := .Values.autoscaling }}
{{- $scaling := or $a.keda.enabled $a.hpa.enabled }}
{{- if and $a.keda.enabled $a.hpa.enabled }}
{{- fail "autoscaling: enable either keda or hpa, not both (they would fight over the Deployment's replicas)" }}
{{- end }}
{{- if and $scaling (lt (int $a.partitions) 1) }}
{{- fail "autoscaling.partitions: set it to the total partition count of the group's topics; it caps maxReplicas (a consumer group cannot use more members than partitions)" }}
{{- end }}
{{- $procs := int (.Values.processes | default 1) }}
{{- if gt (int $a.partitions) 0 }}
{{- $max := ternary $a.keda.maxReplicas $a.hpa.maxReplicas $a.keda.enabled }}
{{- if $scaling }}
{{- if gt (mul (int $max) $procs) (int $a.partitions) }}
{{- fail (printf "autoscaling maxReplicas %d x processes %d exceeds autoscaling.partitions %d: Kafka gives each partition to one member of the group, so the extra members would sit idle, never ready" (int $max) $procs (int $a.partitions)) }}
{{- end }}
{{- else if gt (mul (int .Values.replicaCount) $procs) (int $a.partitions) }}
{{- fail (printf "replicaCount %d x processes %d exceeds autoscaling.partitions %d: the extra members would get no partitions and never be ready" (int .Values.replicaCount) $procs (int $a.partitions)) }}
{{- end }}
{{- end }}
{{- if and $a.keda.enabled (lt (int $a.keda.maxReplicas) (int $a.keda.minReplicas)) }}
{{- fail "autoscaling.keda: maxReplicas is below minReplicas" }}
{{- end }}
{{- if and $a.hpa.enabled (lt (int $a.hpa.maxReplicas) (int $a.hpa.minReplicas)) }}
{{- fail "autoscaling.hpa: maxReplicas is below minReplicas" }}
{{- end }}
{{- end }}

{{/*
Credentials come only from existingSecret: every config key named like a password or secret (but
the mappings, whose keys are XDM fields) must be an ${ENV} reference or a `_file` path; extraEnv
carries secrets only by valueFrom. The message never echoes a value.
*/}}
{{- define "aep-connector.noInlineSecrets" -}}
{{- $path := .path }}
{{- if kindIs "map" .node }}
{{- range $key, $value := .node }}
{{- $where := printf "%s.%s" $path $key }}
{{- if and (regexMatch "(?i)(password|secret)" $key) (not (hasSuffix "_file" $key)) (not (kindIs "map" $value)) (not (regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" (toString $value))) }}
{{- fail (printf "%s: a credential must be an ${ENV_VAR} reference to a key of existingSecret (or use the key's _file twin with secretMount), never the value itself" $where) }}
{{- end }}
{{- include "aep-connector.noInlineSecrets" (dict "path" $where "node" $value) }}
{{- end }}
{{- else if kindIs "slice" .node }}
{{- range $i, $value := .node }}
{{- include "aep-connector.noInlineSecrets" (dict "path" (printf "%s[%d]" $path $i) "node" $value) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aep-connector.validateSecrets" -}}
{{- include "aep-connector.noInlineSecrets" (dict "path" "config" "node" (omit .Values.config "mappings")) }}
{{- include "aep-connector.noInlineSecrets" (dict "path" "autoscaling.keda.extraMetadata" "node" .Values.autoscaling.keda.extraMetadata) }}
{{- range $i, $env := .Values.extraEnv }}
{{- if and (regexMatch "(?i)(secret|password|token|credential)" $env.name) (hasKey $env "value") }}
{{- fail (printf "extraEnv[%d] %s: a credential comes from a Secret (valueFrom.secretKeyRef or existingSecret), never as a value" $i $env.name) }}
{{- end }}
{{- end }}
{{- end }}
