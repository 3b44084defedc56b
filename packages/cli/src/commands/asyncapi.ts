import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineContract, type Contract } from '@switchyard/core';
import { positionals, stringOption } from '../args.js';
import { toAsyncApi, type AsyncApiOptions } from '../asyncapi/document.js';
import type { Command } from '../command.js';
import { CommandError, ExitCode, UsageError } from '../exit-codes.js';

export const asyncapi: Command = {
  name: 'asyncapi',
  summary: 'turn a defineContract export into an AsyncAPI 3.0 document',
  options: {
    out: { type: 'string', short: 'o' },
    export: { type: 'string' },
    title: { type: 'string' },
    version: { type: 'string' },
    url: { type: 'string' },
  },
  help: `Usage: switchyard asyncapi <module> [options]

Imports <module> (a built .js/.mjs file, or a package name), finds its defineContract export and
prints an AsyncAPI 3.0 document (JSON): a channel per topic, send/receive operations (request and
reply for { request, response } topics), the dead-letter channel of each event topic, message
payloads as JSON Schema from the zod schemas (their input side: what publishers send), and the
CloudEvents headers every Switchyard message carries.

Schemas: zod 4 schemas convert through z.toJSONSchema; any schema that implements Standard JSON
Schema (~standard.jsonSchema) converts itself. Others get an open payload and a warning on stderr.

Options:
  -o, --out <file>     write the document here instead of stdout
      --export <name>  which export is the contract (when the module exports several)
      --title <text>   info.title (default: "Switchyard contract")
      --version <v>    info.version (default: 1.0.0)
      --url <url>      a broker URL: adds a server and protocol bindings (credentials are left out)
  -h, --help           this help

Exit codes: 0 written, 2 bad arguments, 3 the module cannot be loaded or has no contract.

Examples:
  switchyard asyncapi ./dist/contract.js --out asyncapi.json
  switchyard asyncapi ./dist/contract.js --export shop --url kafka://broker:9092 --title Shop`,

  async run(parsed, { out, cwd }) {
    const [specifier] = positionals(parsed, ['module']);
    const { values } = parsed;
    const mod = await load(specifier!, cwd);
    const contract = pickContract(mod, specifier!, stringOption(values, 'export'));
    const options: AsyncApiOptions = { onUnconvertible: (topic, reason) => out.info(`warning: "${topic}" has no JSON Schema (${reason}); its payload is left open.`) };
    for (const key of ['title', 'version', 'url'] as const) {
      const value = stringOption(values, key);
      if (value !== undefined) options[key] = value;
    }
    if (options.url !== undefined && !URL.canParse(options.url)) throw new UsageError('--url must be a broker URL such as kafka://broker:9092.');
    const text = `${JSON.stringify(toAsyncApi(contract, options), null, 2)}\n`;
    const file = stringOption(values, 'out');
    if (file === undefined) process.stdout.write(text);
    else {
      await writeFile(resolve(cwd, file), text);
      out.info(`AsyncAPI 3.0 document for ${Object.keys(contract).length} topics written to ${file}`);
    }
    return ExitCode.ok;
  },
};

async function load(specifier: string, cwd: string): Promise<Record<string, unknown>> {
  const isPath = specifier.startsWith('.') || specifier.startsWith('/') || /\.[cm]?[jt]s$/.test(specifier);
  const target = isPath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  try {
    return (await import(target)) as Record<string, unknown>;
  } catch (err) {
    const hint = /\.tsx?$/.test(specifier) ? ' Point it at the compiled .js file (or run under a TypeScript loader, e.g. node --import tsx).' : '';
    throw new CommandError(`Cannot load ${specifier}: ${err instanceof Error ? err.message : String(err)}.${hint}`);
  }
}

/** The export that is a contract (defineContract returns the object it was given, so recognise its shape). */
function pickContract(mod: Record<string, unknown>, specifier: string, name: string | undefined): Contract {
  const candidates = Object.entries(mod).filter(([, value]) => isContract(value));
  if (name !== undefined) {
    if (!(name in mod)) throw new CommandError(`${specifier} has no export "${name}"; its exports: ${Object.keys(mod).join(', ') || '(none)'}.`);
    if (!isContract(mod[name])) throw new CommandError(`Export "${name}" of ${specifier} is not a contract: pass the object given to defineContract({...}).`);
    return defineContract(mod[name] as Contract);
  }
  // `export default contract` and `export const shop = contract` of one object are one contract.
  const distinct = [...new Set(candidates.map(([, value]) => value))];
  if (distinct.length === 0)
    throw new CommandError(`${specifier} exports no contract: export the result of defineContract({...}) from it (exports: ${Object.keys(mod).join(', ') || 'none'}).`);
  if (distinct.length > 1) throw new CommandError(`${specifier} exports several contracts (${candidates.map(([k]) => k).join(', ')}): pick one with --export <name>.`);
  return defineContract(distinct[0] as Contract);
}

function isContract(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  const isSchema = (v: unknown) => typeof v === 'object' && v !== null && typeof (v as { safeParse?: unknown }).safeParse === 'function';
  return (
    entries.length > 0 &&
    entries.every(
      ([, spec]) =>
        isSchema(spec) || (typeof spec === 'object' && spec !== null && isSchema((spec as { request?: unknown }).request) && isSchema((spec as { response?: unknown }).response)),
    )
  );
}
