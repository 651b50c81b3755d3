// A small, strict reader of the Prometheus text format (0.0.4), for checking what the registry
// writes: every line must parse, samples must follow their family's HELP and TYPE lines.

export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: ParsedSample[];
}

const SUFFIXES: Record<string, readonly string[]> = {
  counter: [''],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count'],
};

export function parseExposition(text: string): ParsedFamily[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families: ParsedFamily[] = [];
  const lines = text.slice(0, -1).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/s.exec(line);
    if (help !== null) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(lines[++i] ?? '');
      if (type === null || type[1] !== help[1]) throw new Error(`line ${i + 1}: TYPE must follow HELP`);
      if (families.some((f) => f.name === help[1])) throw new Error(`line ${i + 1}: ${help[1]} described twice`);
      families.push({ name: help[1]!, help: unescape(help[2]!, false), type: type[2]!, samples: [] });
      continue;
    }
    const family = families.at(-1);
    if (family === undefined) throw new Error(`line ${i + 1}: sample before any HELP`);
    const sample = parseSample(line, i + 1);
    if (!SUFFIXES[family.type]!.some((suffix) => sample.name === family.name + suffix)) {
      throw new Error(`line ${i + 1}: ${sample.name} does not belong to ${family.name}`);
    }
    family.samples.push(sample);
  }
  return families;
}

function parseSample(line: string, lineNo: number): ParsedSample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (head === null) throw new Error(`line ${lineNo}: bad sample name`);
  let at = head[1]!.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (label === null) throw new Error(`line ${lineNo}: bad label at column ${at}`);
      at += label[0].length;
      let raw = '';
      while (line[at] !== '"') {
        if (at >= line.length) throw new Error(`line ${lineNo}: unterminated label value`);
        if (line[at] === '\\') raw += line[at++];
        raw += line[at++];
      }
      at++;
      if (Object.hasOwn(labels, label[1]!)) throw new Error(`line ${lineNo}: repeated label ${label[1]}`);
      labels[label[1]!] = unescape(raw, true);
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error(`line ${lineNo}: expected , or } at column ${at}`);
    }
    at++;
  }
  const value = /^ (\S+)$/.exec(line.slice(at));
  if (value === null) throw new Error(`line ${lineNo}: expected one space and a value`);
  return { name: head[1]!, labels, value: parseValue(value[1]!, lineNo) };
}

function parseValue(text: string, lineNo: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`line ${lineNo}: bad value ${text}`);
  return value;
}

function unescape(text: string, quoted: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === 'n') out += '\n';
    else if (next === '\\' || (quoted && next === '"')) out += next;
    else throw new Error(`bad escape \\${next ?? ''}`);
  }
  return out;
}
