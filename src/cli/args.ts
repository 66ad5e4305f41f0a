import { UsageError } from '../index.js';
// A small declarative argument parser shared by every command: long and short flags, `--k=v`,
// repeatable options, positionals, and `--help`. Unknown flags are usage errors (exit 2).

export type OptionKind = 'string' | 'number' | 'int' | 'boolean' | 'list';

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly short?: string;
  readonly help: string;
  readonly default?: string | number | boolean;
  /** placeholder shown in help, e.g. FILE */
  readonly arg?: string;
  /** giving it twice is a usage error (for text such as a prompt, where "the last one wins" loses input) */
  readonly once?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** usage line after `llama <name>` */
  readonly usage: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** extra help text (examples) */
  readonly details?: string;
}

export type ParsedValue = string | number | boolean | string[] | undefined;

export interface ParsedArgs {
  readonly values: Record<string, ParsedValue>;
  readonly positionals: string[];
  readonly help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const values: Record<string, ParsedValue> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    if (o.kind === 'list') values[name] = [];
    else if (o.default !== undefined) values[name] = o.default;
    else if (o.kind === 'boolean') values[name] = false;
  }
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(spec.options)) if (o.short) byShort.set(o.short, name);
  const positionals: string[] = [];
  const seen = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (eq >= 0) inline = a.slice(eq + 1);
      if (!(name in spec.options) && name.startsWith('no-') && spec.options[name.slice(3)]?.kind === 'boolean') {
        values[name.slice(3)] = false;
        continue;
      }
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      name = byShort.get(a.slice(1));
      if (name === undefined) throw new UsageError(`unknown option ${a} for 'llama ${spec.name}'`, `run 'llama ${spec.name} --help'`);
    } else {
      positionals.push(a);
      continue;
    }
    const o = spec.options[name];
    if (!o) throw new UsageError(`unknown option --${name} for 'llama ${spec.name}'`, `run 'llama ${spec.name} --help'`);
    if (o.kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`, `run 'llama ${spec.name} --help'`);
    if (o.once && seen.has(name)) throw new UsageError(`--${name}${o.short ? ` (-${o.short})` : ''} was given twice`, `give it once`);
    seen.add(name);
    if (o.kind === 'string') values[name] = raw;
    else if (o.kind === 'list') (values[name] as string[]).push(raw);
    else {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name} needs a number, got '${raw}'`);
      if (o.kind === 'int' && !Number.isInteger(v)) throw new UsageError(`--${name} needs a whole number, got '${raw}'`);
      values[name] = v;
    }
  }
  return { values, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`llama ${spec.name}: ${spec.summary}`, '', `usage: llama ${spec.name} ${spec.usage}`, '', 'options:'];
  for (const [name, o] of Object.entries(spec.options)) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.kind === 'boolean' ? '' : ` ${o.arg ?? o.kind.toUpperCase()}`}`;
    const def = o.default !== undefined ? ` (default: ${o.default})` : '';
    lines.push(`  ${flag.padEnd(30)} ${o.help}${def}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(30)} show this help`);
  if (spec.details) lines.push('', spec.details);
  return lines.join('\n') + '\n';
}

/** Typed accessors: they throw a usage error when a required value is missing. */
export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}
export function num(a: ParsedArgs, name: string): number | undefined {
  const v = a.values[name];
  return typeof v === 'number' ? v : undefined;
}
export function bool(a: ParsedArgs, name: string): boolean {
  return a.values[name] === true;
}
export function list(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return Array.isArray(v) ? v : [];
}
export function required(a: ParsedArgs, name: string, spec: CommandSpec): string {
  const v = str(a, name);
  if (v === undefined) throw new UsageError(`--${name} is required`, `usage: llama ${spec.name} ${spec.usage}`);
  return v;
}
