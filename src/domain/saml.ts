/**
 * The audience of assertions an IdP issues for AWS itself. The broker accepts them only from IdPs
 * configured for it, and only to pass them on to AssumeRoleWithSAML, never for its own AssumeRole path.
 */
export const AWS_SAML_AUDIENCE = 'urn:amazon:webservices';
