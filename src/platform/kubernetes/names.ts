/**
 * Names shared by the install manifests, the injector and the webhooks: where the control plane
 * lives in a cluster and what its webhooks are called.
 */

/** Namespace of the control plane and the ingress gateway (Istio's). */
export const SYSTEM_NAMESPACE = 'istio-system';
/** Name of the control plane's Deployment, Service, ServiceAccount and RBAC objects. */
export const CONTROL_PLANE_NAME = 'bowline';
/** The control plane's TLS push address as pods reach it through its Service. */
export const CONTROL_PLANE_PUSH_ADDRESS = `${CONTROL_PLANE_NAME}.${SYSTEM_NAMESPACE}.svc:15012`;
/** The port the webhooks are served on (Istio's 15017). */
export const WEBHOOK_PORT = 15017;
/** Name of the ValidatingWebhookConfiguration (and of its webhook, with `.istio.io`). */
export const VALIDATING_WEBHOOK = 'bowline-validator-istio-system';
/** Name of the MutatingWebhookConfiguration. */
export const MUTATING_WEBHOOK = 'bowline-sidecar-injector';
/** Path of the validating webhook on the webhook port. */
export const VALIDATE_PATH = '/validate';
/** Path of the injection webhook on the webhook port. */
export const INJECT_PATH = '/inject';
