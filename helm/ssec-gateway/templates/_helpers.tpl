{{/* Names */}}
{{- define "ssec-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ssec-gateway.fullname" -}}
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

{{- define "ssec-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ssec-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssec-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ssec-gateway.labels" -}}
helm.sh/chart: {{ include "ssec-gateway.chart" . }}
{{ include "ssec-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ssec-gateway
{{- end }}

{{- define "ssec-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ssec-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ssec-gateway.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Fixed paths inside the container */}}
{{- define "ssec-gateway.paths" -}}
config: /etc/ssec-gateway
tls: /etc/ssec-gateway/tls
clients: /etc/ssec-gateway/clients
keyring: /etc/ssec-gateway/keyring
upstreamCA: /etc/ssec-gateway/upstream-ca
fingerprint: /var/run/secrets/ssec-gateway/fingerprint
upstream: /var/run/secrets/ssec-gateway/upstream
state: /var/lib/ssec-gateway
{{- end }}

{{/*
The gateway's config.yaml: the free-form .Values.config, overridden by what the chart owns
(listeners, TLS files, state dir, file: references of the mounted Secrets).
*/}}
{{- define "ssec-gateway.config" -}}
{{- $p := include "ssec-gateway.paths" . | fromYaml }}
{{- $s := .Values.secrets }}
{{- $sidecar := eq .Values.mode "sidecar" }}
{{- $listen := dict "host" (ternary "127.0.0.1" "0.0.0.0" $sidecar) "httpsPort" (int .Values.ports.https) "adminHost" "0.0.0.0" "adminPort" (int .Values.ports.admin) }}
{{- if .Values.plaintext.enabled }}
{{- $_ := set $listen "httpPort" (int .Values.plaintext.port) }}
{{- end }}
{{- $owned := dict "listen" $listen "stateDir" $p.state }}
{{- if $s.tls.name }}
{{- $_ := set $owned "tls" (dict "cert" (printf "%s/tls.crt" $p.tls) "key" (printf "%s/tls.key" $p.tls)) }}
{{- end }}
{{- if $s.fingerprint.name }}
{{- $_ := set $owned "fingerprint" (dict "secret" (printf "file:%s/secret" $p.fingerprint)) }}
{{- end }}
{{- $upstream := dict }}
{{- if $s.upstreamCredentials.name }}
{{- $_ := set $upstream "accessKeyId" (printf "file:%s/accessKeyId" $p.upstream) }}
{{- $_ := set $upstream "secretAccessKey" (printf "file:%s/secretAccessKey" $p.upstream) }}
{{- end }}
{{- if $s.upstreamCA.name }}
{{- $_ := set $upstream "ca" (printf "%s/ca.crt" $p.upstreamCA) }}
{{- end }}
{{- if $upstream }}
{{- $_ := set $owned "upstream" $upstream }}
{{- end }}
{{- if $s.clients.name }}
{{- $_ := set $owned "auth" (dict "clientsFile" (printf "%s/%s" $p.clients $s.clients.key)) }}
{{- end }}
{{- if $s.keyring.name }}
{{- $_ := set $owned "keyring" (dict "dir" $p.keyring) }}
{{- end }}
{{- mustMergeOverwrite (deepCopy (default (dict) .Values.config)) $owned | toYaml }}
{{- end }}

{{/* Volumes of the gateway container (shared by the Deployment and the sidecar snippet) */}}
{{- define "ssec-gateway.volumes" -}}
{{- $s := .Values.secrets -}}
- name: ssec-config
  configMap:
    name: {{ include "ssec-gateway.fullname" . }}
- name: ssec-state
  emptyDir:
    sizeLimit: 16Mi
- name: ssec-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if $s.tls.name }}
- name: ssec-tls
  secret:
    secretName: {{ $s.tls.name }}
    items:
      - { key: tls.crt, path: tls.crt }
      - { key: tls.key, path: tls.key }
{{- end }}
{{- if $s.clients.name }}
- name: ssec-clients
  secret:
    secretName: {{ $s.clients.name }}
{{- end }}
{{- if $s.keyring.name }}
- name: ssec-keyring
  secret:
    secretName: {{ $s.keyring.name }}
    defaultMode: {{ .Values.secretFileMode }}
{{- end }}
{{- if $s.fingerprint.name }}
- name: ssec-fingerprint
  secret:
    secretName: {{ $s.fingerprint.name }}
    defaultMode: {{ .Values.secretFileMode }}
    items:
      - { key: {{ $s.fingerprint.key }}, path: secret }
{{- end }}
{{- if $s.upstreamCredentials.name }}
- name: ssec-upstream-credentials
  secret:
    secretName: {{ $s.upstreamCredentials.name }}
    defaultMode: {{ .Values.secretFileMode }}
    items:
      - { key: {{ $s.upstreamCredentials.accessKeyIdKey }}, path: accessKeyId }
      - { key: {{ $s.upstreamCredentials.secretAccessKeyKey }}, path: secretAccessKey }
{{- end }}
{{- if $s.upstreamCA.name }}
- name: ssec-upstream-ca
  secret:
    secretName: {{ $s.upstreamCA.name }}
    items:
      - { key: {{ $s.upstreamCA.key }}, path: ca.crt }
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The gateway container (shared by the Deployment and the sidecar snippet) */}}
{{- define "ssec-gateway.container" -}}
{{- $p := include "ssec-gateway.paths" . | fromYaml }}
{{- $s := .Values.secrets -}}
- name: ssec-gateway
  image: {{ include "ssec-gateway.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["serve", "--config", "{{ $p.config }}/config.yaml"]
  ports:
    - { name: gw-https, containerPort: {{ .Values.ports.https }}, protocol: TCP }
    {{- if .Values.plaintext.enabled }}
    - { name: gw-http, containerPort: {{ .Values.plaintext.port }}, protocol: TCP }
    {{- end }}
    - { name: gw-admin, containerPort: {{ .Values.ports.admin }}, protocol: TCP }
  env:
    # worker processes: .Values.workers, else one per CPU requested (rounded up: 100m → 1)
    - name: SSEC_GATEWAY_WORKERS
      {{- if .Values.workers }}
      value: {{ .Values.workers | quote }}
      {{- else }}
      valueFrom: { resourceFieldRef: { resource: requests.cpu, divisor: "1" } }
      {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    httpGet: { path: /healthz, port: gw-admin }
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet: { path: /healthz, port: gw-admin }
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet: { path: /readyz, port: gw-admin }
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  {{- if gt (int .Values.preStopSleepSeconds) 0 }}
  lifecycle:
    preStop:
      exec:
        command: ["sleep", "{{ .Values.preStopSleepSeconds }}"]
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  volumeMounts:
    - { name: ssec-config, mountPath: {{ $p.config }}/config.yaml, subPath: config.yaml, readOnly: true }
    - { name: ssec-state, mountPath: {{ $p.state }} }
    - { name: ssec-tmp, mountPath: /tmp }
    {{- if $s.tls.name }}
    - { name: ssec-tls, mountPath: {{ $p.tls }}, readOnly: true }
    {{- end }}
    {{- if $s.clients.name }}
    - { name: ssec-clients, mountPath: {{ $p.clients }}, readOnly: true }
    {{- end }}
    {{- if $s.keyring.name }}
    - { name: ssec-keyring, mountPath: {{ $p.keyring }}, readOnly: true }
    {{- end }}
    {{- if $s.fingerprint.name }}
    - { name: ssec-fingerprint, mountPath: {{ $p.fingerprint }}, readOnly: true }
    {{- end }}
    {{- if $s.upstreamCredentials.name }}
    - { name: ssec-upstream-credentials, mountPath: {{ $p.upstream }}, readOnly: true }
    {{- end }}
    {{- if $s.upstreamCA.name }}
    - { name: ssec-upstream-ca, mountPath: {{ $p.upstreamCA }}, readOnly: true }
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
