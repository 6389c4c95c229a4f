import { headerValue, type EmulatorRequest } from './http-request.ts';

/**
 * The parameters of an AWS query-protocol request: the query string merged with an
 * `application/x-www-form-urlencoded` body (body wins on duplicates).
 * Lists are `Name.member.N`, lists of structures `Name.member.N.Field`; an empty list is sent as `Name=`.
 */
export class QueryParams {
  private readonly map: Map<string, string>;

  constructor(entries: Iterable<[string, string]>) {
    this.map = new Map(entries);
  }

  static fromRequest(req: EmulatorRequest): QueryParams {
    const entries: [string, string][] = [...new URLSearchParams(req.rawQuery)];
    const contentType = (headerValue(req, 'content-type') ?? '').toLowerCase();
    if (req.method === 'POST' && (contentType === '' || contentType.startsWith('application/x-www-form-urlencoded'))) {
      entries.push(...new URLSearchParams(req.body.toString('utf8')));
    }
    return new QueryParams(entries);
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** `Name.member.N` values ordered by N. */
  list(name: string): string[] {
    const re = new RegExp(`^${escapeRe(name)}\\.member\\.(\\d+)$`);
    const items: [number, string][] = [];
    for (const [key, value] of this.map) {
      const m = re.exec(key);
      if (m) items.push([Number(m[1]), value]);
    }
    return items.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }

  /** `Name.member.N.Field` structures ordered by N; missing fields are undefined. */
  structList<F extends string>(name: string, fields: readonly F[]): Array<Partial<Record<F, string>>> {
    const re = new RegExp(`^${escapeRe(name)}\\.member\\.(\\d+)\\.(.+)$`);
    const byIndex = new Map<number, Partial<Record<F, string>>>();
    for (const [key, value] of this.map) {
      const m = re.exec(key);
      if (!m) continue;
      const field = m[2] as F;
      if (!fields.includes(field)) continue;
      const index = Number(m[1]);
      const item: Partial<Record<F, string>> = byIndex.get(index) ?? {};
      item[field] = value;
      byIndex.set(index, item);
    }
    return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
