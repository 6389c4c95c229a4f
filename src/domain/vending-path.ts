/** The STS API an entitlement is vended through; see docs/vending-paths.md and docs/adr/0001-broker-as-oidc-issuer.md. */
export const VENDING_PATHS = ['keyvend-issuer', 'assume-role', 'federation-token'] as const;
export type VendingPath = (typeof VENDING_PATHS)[number];
