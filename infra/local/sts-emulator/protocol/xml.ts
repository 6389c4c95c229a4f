import { STS_API_VERSION, type StsError } from '../errors.ts';

export const STS_XMLNS = `https://sts.amazonaws.com/doc/${STS_API_VERSION}/`;

/** Ordered element list; undefined values are omitted, nested arrays are child elements. */
export type XmlTree = ReadonlyArray<readonly [string, string | number | XmlTree | undefined]>;

/** Escapes text content (STS leaves quotes and apostrophes in text nodes as they are). */
export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function render(tree: XmlTree, indent: string): string {
  let out = '';
  for (const [name, value] of tree) {
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number') {
      out += `${indent}<${name}>${escapeXml(String(value))}</${name}>\n`;
    } else {
      out += `${indent}<${name}>\n${render(value, `${indent}  `)}${indent}</${name}>\n`;
    }
  }
  return out;
}

/** `<{Action}Response xmlns=…><{Action}Result>…</{Action}Result><ResponseMetadata>…` as STS sends it. */
export function successXml(action: string, result: XmlTree, requestId: string): string {
  return (
    `<${action}Response xmlns="${STS_XMLNS}">\n` +
    render(
      [
        [`${action}Result`, result],
        ['ResponseMetadata', [['RequestId', requestId]]],
      ],
      '  ',
    ) +
    `</${action}Response>\n`
  );
}

export function errorXml(error: StsError, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${STS_XMLNS}">\n` +
    render(
      [
        [
          'Error',
          [
            ['Type', error.type],
            ['Code', error.code],
            ['Message', error.message],
          ],
        ],
        ['RequestId', requestId],
      ],
      '  ',
    ) +
    `</ErrorResponse>\n`
  );
}
