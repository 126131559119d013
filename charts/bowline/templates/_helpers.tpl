{{- define "bowline.image" -}}{{ .Values.global.hub }}/bowline:{{ .Values.global.tag }}{{- end -}}
{{- define "bowline.istioGroups" }}
          - authentication.istio.io
          - networking.istio.io
          - security.istio.io
          - telemetry.istio.io
{{- end -}}
