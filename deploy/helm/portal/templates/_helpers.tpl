{{/* Names and labels. */}}
{{- define "portal.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portal.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "portal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "portal.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "portal.clamavImage" -}}
{{- $i := .Values.scanning.clamd.image -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $i.repository $i.digest -}}
{{- else -}}
{{- printf "%s:%s" $i.repository (toString $i.tag) -}}
{{- end -}}
{{- end -}}

{{/* freshclam's configuration: the signatures into the emptyDir clamd
reads them from, which clamd reloads by itself (clamd.conf's SelfCheck,
every 10 minutes). No TestDatabases: each test would load the whole set,
clamd's memory again; clamd keeps the old set when a new one does not
load. */}}
{{- define "portal.freshclamConf" -}}
DatabaseDirectory /var/lib/clamav
Foreground yes
LogTime yes
Checks {{ int .Values.scanning.freshclam.checks }}
TestDatabases no
{{- with .Values.scanning.freshclam.privateMirror }}
PrivateMirror {{ . }}
{{- else }}
DatabaseMirror database.clamav.net
{{- end }}
{{- end -}}

{{/* Where the Secret's keys are mounted, one file each. */}}
{{- define "portal.secretDir" -}}/run/secrets/portal{{- end -}}

{{/* Where the migrate init container finds the database owner's URL. */}}
{{- define "portal.ownerSecretDir" -}}/run/secrets/portal-migrate{{- end -}}

{{/*
portal.validate fails the render with a sentence for the operator when a
required value is missing or a setting would defeat the chart's design.
*/}}
{{- define "portal.validate" -}}
{{- $url := required "publicURL is required: how browsers reach the portal (https://...)" .Values.publicURL -}}
{{- if not (hasPrefix "https://" $url) -}}
{{- fail "publicURL must be https: the portal refuses plain http outside development" -}}
{{- end -}}
{{- $_ := required "secrets.existingSecret is required: the Secret holding master.key, signing.key, the S3 keys, database-url and each identity provider's client secret" .Values.secrets.existingSecret -}}
{{- $psc := default dict .Values.podSecurityContext -}}
{{- if or (not $psc.fsGroup) (ne (toString $psc.fsGroup) (toString (default "" $psc.runAsGroup))) -}}
{{- fail "podSecurityContext.fsGroup and podSecurityContext.runAsGroup must be set, and be the same group: the Secret's files are mounted root:fsGroup, mode 0440, and the portal refuses a secret file its group may read unless that group is its own" -}}
{{- end -}}
{{- $_ := required "s3.endpoint is required (host:port)" .Values.s3.endpoint -}}
{{- if not .Values.s3.secure -}}
{{- fail "s3.secure must be true: the portal refuses plain http to an object store outside development (its requests and answers could be read and forged on the way)" -}}
{{- end -}}
{{- if not .Values.identityProviders -}}
{{- fail "identityProviders must name at least one OpenID Provider" -}}
{{- end -}}
{{- range .Values.identityProviders -}}
{{- if not (regexMatch "^[a-z0-9-]{1,32}$" (default "" .name)) -}}
{{- fail (printf "identity provider name %q must be 1 to 32 of a-z, 0-9 and -" (default "" .name)) -}}
{{- end -}}
{{- if not (and .issuer .clientId (has .organisation (list "provider" "inspectorate"))) -}}
{{- fail (printf "identity provider %s needs issuer, clientId and organisation (provider or inspectorate)" .name) -}}
{{- end -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- $_ := required "ingress.host is required" .Values.ingress.host -}}
{{- $_ := required "ingress.tlsSecretName is required: the portal is served over TLS only" .Values.ingress.tlsSecretName -}}
{{- end -}}
{{- if not (has .Values.scanning.mode (list "required" "off")) -}}
{{- fail (printf "scanning.mode must be required or off, not %q" .Values.scanning.mode) -}}
{{- end -}}
{{- /* clamd has no TLS and is sent every upload's plaintext: it runs in
       the pod, reached on loopback, and no value may send the plaintext
       across the pod network to another (an older chart's did). */ -}}
{{- if .Values.scanning.clamdAddr -}}
{{- fail "scanning.clamdAddr is gone: clamd runs in every portal pod, reached on loopback (clamd has no TLS, and a clamd elsewhere would be sent every upload's plaintext across the pod network); remove it, and the separate clamd Deployment" -}}
{{- end -}}
{{- if .Values.networkPolicy.egress.clamd -}}
{{- fail "networkPolicy.egress.clamd is gone: clamd runs in every portal pod and is reached on loopback; remove it (freshclam's mirror is networkPolicy.egress.signatures)" -}}
{{- end -}}
{{- if eq .Values.scanning.mode "required" -}}
{{- $i := .Values.scanning.clamd.image -}}
{{- if not (or $i.digest (regexMatch "^[0-9]+\\.[0-9]+\\.[0-9]+" (toString $i.tag))) -}}
{{- fail (printf "scanning.clamd.image needs a digest or a tag that names a release, such as 1.4.3, not %q: a moving tag changes the scanner under the portal" (toString $i.tag)) -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.egress.signatures.to) -}}
{{- fail "networkPolicy.egress.signatures.to must name freshclam's signature mirror (scanning.freshclam.privateMirror's selectors or ipBlock, or an egress proxy): without it clamd has no signatures, and an empty list would allow every destination" -}}
{{- end -}}
{{- end -}}
{{- /* The metrics listener is on every interface of the pod, for
       Prometheus in another, with PORTAL_METRICS_ALLOW_REMOTE: only the
       network policy keeps the other pods of the cluster from it. */ -}}
{{- if and .Values.metrics.enabled (not .Values.networkPolicy.enabled) -}}
{{- fail "metrics.enabled needs networkPolicy.enabled: the metrics port listens on every interface of the pod, and only the chart's network policy limits it to Prometheus (networkPolicy.prometheus); without it every pod in the cluster could read it. Enable the network policy, or set metrics.enabled=false" -}}
{{- end -}}
{{- if .Values.networkPolicy.enabled -}}
{{- if not .Values.networkPolicy.egress.database.to -}}
{{- fail "networkPolicy.egress.database.to must name the database (an ipBlock or selectors): an empty list would allow every destination" -}}
{{- end -}}
{{- if not .Values.networkPolicy.egress.s3.to -}}
{{- fail "networkPolicy.egress.s3.to must name the object store (an ipBlock or selectors): an empty list would allow every destination" -}}
{{- end -}}
{{- if not .Values.networkPolicy.egress.identityProviders.to -}}
{{- fail "networkPolicy.egress.identityProviders.to must name the identity providers (their address ranges, or an egress proxy's selectors): an empty list would allow every destination" -}}
{{- end -}}
{{- range $name, $rule := .Values.networkPolicy.egress -}}
{{- if and $rule.to (not $rule.ports) -}}
{{- fail (printf "networkPolicy.egress.%s.ports must name the ports the pods use there: a rule without ports allows every port of its peers" $name) -}}
{{- end -}}
{{- range $rule.to -}}
{{- if .ipBlock -}}
{{- /* One range may be no wider than an IPv4 /8 or an IPv6 /24 (the
       bound PORTAL_TRUSTED_PROXIES keeps for public addresses): wider,
       such as 0.0.0.0/1 and 128.0.0.0/1, or 2000::/3, is much of the
       internet, however it is spelt. A CIDR without a length is 0. */ -}}
{{- $cidr := toString .ipBlock.cidr -}}
{{- $bits := 0 -}}
{{- if contains "/" $cidr -}}
{{- $bits = atoi (last (splitList "/" $cidr)) -}}
{{- end -}}
{{- $min := ternary 24 8 (contains ":" $cidr) -}}
{{- if eq $bits 0 -}}
{{- fail (printf "networkPolicy.egress.%s.to allows every address (%s): a compromised replica could send what it holds anywhere; name the hosts' ranges, or an egress proxy" $name $cidr) -}}
{{- else if lt $bits $min -}}
{{- fail (printf "networkPolicy.egress.%s.to allows too wide a range (%s): at most an IPv4 /8 or an IPv6 /24 each, or a compromised replica could send what it holds to much of the internet; name the hosts' ranges, or an egress proxy" $name $cidr) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $k, $v := .Values.config -}}
{{- if not (hasPrefix "PORTAL_" $k) -}}
{{- fail (printf "config.%s: only PORTAL_* settings belong here" $k) -}}
{{- end -}}
{{- if or (has $k (list "PORTAL_S3_ACCESS_KEY" "PORTAL_S3_SECRET_KEY" "PORTAL_DATABASE_URL" "PORTAL_DATABASE_OWNER_URL" "PORTAL_SMTP_PASSWORD")) (hasSuffix "_CLIENT_SECRET" $k) -}}
{{- fail (printf "config.%s is a secret: put it in the Secret (secrets.existingSecret), which is mounted as a file" $k) -}}
{{- end -}}
{{- if eq $k "PORTAL_PLAINTEXT_HOSTS" -}}
{{- fail "config.PORTAL_PLAINTEXT_HOSTS: a pod network is shared with every other pod, so the database and the object store are reached over verified TLS (sslmode=verify-full, s3.secure)" -}}
{{- end -}}
{{- if or (hasSuffix "_FILE" $k) (has $k (list "PORTAL_ADDR" "PORTAL_PUBLIC_URL" "PORTAL_IDPS" "PORTAL_S3_ENDPOINT" "PORTAL_S3_SECURE" "PORTAL_S3_REGION" "PORTAL_METRICS_ADDR" "PORTAL_METRICS_ALLOW_REMOTE" "PORTAL_TRUSTED_PROXIES" "PORTAL_AUDIT_ANCHOR_DIR" "PORTAL_DEV" "PORTAL_SMTP_URL" "PORTAL_MAIL_FROM" "PORTAL_SCAN" "PORTAL_CLAMD_ADDR" "PORTAL_SCAN_TIMEOUT")) (hasPrefix "PORTAL_IDP_" $k) -}}
{{- fail (printf "config.%s is set by the chart from its own values" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
