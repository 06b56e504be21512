// Reads the YAML config file into plain values plus a way to say where each key is (`file:line:col`), using yaml's
// LineCounter (LIBRARIES.md §1). Not the schema check or the merging: load.ts does those.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { ConfigError, isErrnoException } from '../errors.js';

export interface YamlConfigFile {
  file: string;
  /** Relative paths in the file (app, unix: listen, control) are resolved against the file's folder. */
  dir: string;
  values: Record<string, unknown>;
  /** `file:line:col` of a top-level key's value (or of the key itself with `keyItself`), or `file` when unknown. */
  locate(key: string, keyItself?: boolean): string;
}

const SEE_EXAMPLE = 'supervisor.example.yaml lists every option';

export function readYamlConfig(file: string): YamlConfigFile {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    const code = isErrnoException(err) ? err.code : undefined;
    const what =
      code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : code === 'EACCES' ? 'is not readable' : 'cannot be read';
    throw new ConfigError('config', `config file ${file} ${what}`, {
      code: 'ERR_CONFIG_FILE',
      hint: code === 'EACCES' ? 'check its permissions' : `check --config or SCGI_SUPERVISE_CONFIG; ${SEE_EXAMPLE}`,
      cause: err,
    });
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };

  const first = doc.errors[0];
  if (first) {
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more YAML errors)` : '';
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : at(first.pos[0]);
    throw new ConfigError('config', `${where}: ${firstLine(first.message)}${more}`, {
      code: 'ERR_CONFIG_FILE',
      hint: first.code === 'DUPLICATE_KEY' ? 'give each option once' : 'fix the YAML syntax there (indentation, quoting, "key: value")',
      cause: first,
    });
  }

  const contents = doc.contents;
  let values: Record<string, unknown> = {};
  if (contents !== null) {
    // Scalars at the top (a file holding just "4") and lists are not a config.
    if (!isMap(contents)) {
      throw new ConfigError('config', `${at(contents.range?.[0])}: the top level must be a mapping of option: value`, {
        code: 'ERR_CONFIG_FILE',
        hint: `write one "option: value" per line; ${SEE_EXAMPLE}`,
      });
    }
    values = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as Record<string, unknown>;
  }

  const findPair = (key: string): Pair<unknown, unknown> | undefined =>
    isMap(contents) ? contents.items.find((p) => isScalar(p.key) && String(p.key.value) === key) : undefined;

  return {
    file,
    dir: dirname(file),
    values,
    locate(key, keyItself = false) {
      const pair = findPair(key);
      if (!pair) return file;
      const node = (keyItself ? pair.key : (pair.value ?? pair.key)) as Node | null;
      return at(node?.range?.[0]);
    },
  };
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return nl === -1 ? message : message.slice(0, nl);
}
