/**
 * Could a stage's out produce files matching a glob dep? Decided segment by
 * segment, so `artifacts/*.csv` depends on an out `artifacts/split.csv` but not
 * on `artifacts/model`, and `artifacts/**` depends on anything under artifacts.
 * Covers the fast-glob syntax pipelines use: `*`, `?`, `**`, `[…]`, `{a,b}`.
 */
import { isGlob } from '../config/paths.ts';

export function globCouldMatchUnder(pattern: string, out: string): boolean {
  const patternParts = pattern.split('/');
  const outParts = out.split('/');
  for (let i = 0; i < outParts.length; i++) {
    const part = patternParts[i];
    if (part === undefined) return false; // the out lies deeper than the pattern reaches
    if (part === '**') return true;
    if (!segmentMatches(part, outParts[i])) return false;
  }
  // The out matched the whole pattern, or a prefix of it (then files inside the out may match).
  return true;
}

function segmentMatches(part: string, name: string): boolean {
  if (!isGlob(part)) return part === name;
  return segmentRegExp(part).test(name);
}

const cache = new Map<string, RegExp>();

function segmentRegExp(part: string): RegExp {
  let re = cache.get(part);
  if (re) return re;
  let source = '';
  let braces = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = part.indexOf(']', i + 1);
      if (close === -1) source += '\\[';
      else {
        const body = part
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else if (c === '{') {
      braces++;
      source += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      source += ')';
    } else if (c === ',' && braces > 0) source += '|';
    else if (c === '\\' && i + 1 < part.length) source += `\\${part[++i]}`;
    else source += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  // An unbalanced brace or a construct we do not model: match anything (a false edge is safer than a missing one).
  try {
    re = braces === 0 ? new RegExp(`^${source}$`) : /.*/;
  } catch {
    re = /.*/;
  }
  cache.set(part, re);
  return re;
}
