// ajv for the structured-output tests: draft 2020-12 with strict checks of the formats the grammars generate.
import { Ajv2020 } from 'ajv/dist/2020.js';

/** ajv (draft 2020-12) with strict format checks for the formats we generate. */
export function makeAjv(): InstanceType<typeof Ajv2020> {
  // strict: false -- ajv's strict mode lints schemas (e.g. wants `type` next to `required`); validation is unchanged
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const daysIn = (y: number, m: number) => [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  const date = (s: string) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
    if (!m) return false;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo);
  };
  const time = (s: string) => /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|z|[+-]([01]\d|2[0-3]):[0-5]\d)$/.test(s);
  ajv.addFormat('date', date);
  ajv.addFormat('time', time);
  ajv.addFormat('date-time', (s: string) => {
    const [d, t, ...rest] = s.split(/[Tt]/);
    return rest.length === 0 && d !== undefined && t !== undefined && date(d) && time(t);
  });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  return ajv;
}
