{{/*
Expand the name of the chart.
*/}}
{{- define "eks-anywhere-packages.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name, truncated at 63 characters because some Kubernetes name
fields are limited to this (by the DNS naming spec).
*/}}
{{- define "eks-anywhere-packages.fullname" -}}
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
Chart name and version as used by the chart label.
*/}}
{{- define "eks-anywhere-packages.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "eks-anywhere-packages.labels" -}}
helm.sh/chart: {{ include "eks-anywhere-packages.chart" . }}
{{ include "eks-anywhere-packages.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "eks-anywhere-packages.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eks-anywhere-packages.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
