'use strict';
/**
 * esbuild plugins for `serverless package` (serverless.yml `custom.esbuild.plugins`) and bench/bundle.ts.
 * They keep out of the bundles what the broker can never run; docs/bundle-size.md says why each is safe.
 */
const { dirname } = require('node:path');

const STUB_NAMESPACE = 'keyvend-unreachable';

/**
 * Modules @node-saml/node-saml loads at start but the broker never calls: it only verifies responses, with
 * no decryption key (so node-saml refuses an EncryptedAssertion before decrypting, and xml-guard refuses it
 * before that), and never builds requests or metadata (node-saml's xmlbuilder). The stub throws if called.
 */
const UNREACHABLE = {
  'xml-encryption': ['decrypt', 'encrypt', 'decryptKeyInfo', 'encryptKeyInfo', 'createCertificate'],
  xmlbuilder: ['create', 'begin', 'stringWriter', 'streamWriter', 'implementation', 'nodeType', 'writerState'],
};
const NODE_SAML_DIR = /[\\/]node_modules[\\/]@node-saml[\\/]node-saml[\\/]/;

const unreachableSamlModules = {
  name: 'keyvend-unreachable-saml-modules',
  setup(build) {
    build.onResolve({ filter: /^(xml-encryption|xmlbuilder)$/ }, (args) =>
      NODE_SAML_DIR.test(args.importer) ? { path: args.path, namespace: STUB_NAMESPACE } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: STUB_NAMESPACE }, (args) => {
      const names = UNREACHABLE[args.path];
      const body = names
        .map(
          (name) =>
            `exports.${name} = function () { throw new Error(${JSON.stringify(`${args.path}.${name} is not bundled: the broker never decrypts assertions or builds SAML messages`)}); };`,
        )
        .join('\n');
      return { contents: body, loader: 'js', resolveDir: dirname(__filename) };
    });
  },
};

/**
 * @xmldom/xmldom has no side effects at load; saying so lets functions without SAML (entitlements, console,
 * portal) drop it with the SAML verifier that imports it, instead of carrying 69 KB they never run.
 */
const xmldomWithoutSideEffects = {
  name: 'keyvend-xmldom-side-effect-free',
  setup(build) {
    build.onResolve({ filter: /^@xmldom\/xmldom$/ }, async (args) => {
      if (args.pluginData === 'keyvend-resolving') return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'keyvend-resolving',
      });
      return resolved.errors.length > 0 ? undefined : { path: resolved.path, sideEffects: false };
    });
  },
};

module.exports = [unreachableSamlModules, xmldomWithoutSideEffects];
