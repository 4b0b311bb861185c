/**
 * pipeline.yaml parsed with positions kept, so every later complaint (schema,
 * params, graph) can point at the exact line and column it is about.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { SourceSpan } from '../errors.ts';

export type PathSegment = string | number;

interface Located {
  /** The value node at the path (undefined when the path goes through something that is not there). */
  node?: Node;
  /** The key node whose value it is, when it sits in a mapping. */
  key?: Node;
  /** How many path segments were actually found (a prefix of the path). */
  depth: number;
}

export class YamlSource {
  readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, keepSourceTokens: false });
  }

  /** Span of text between two offsets, cut at the end of the first line. */
  spanOfRange(start: number, end: number): SourceSpan {
    const position = this.lines.linePos(start);
    const lineEnd = this.text.indexOf('\n', start);
    const stop = Math.min(end, lineEnd === -1 ? this.text.length : lineEnd);
    return { file: this.file, line: position.line, col: position.col, length: Math.max(1, stop - start) };
  }

  /** Span of the value at `path` (or of the deepest ancestor that exists). */
  spanOfValue(path: readonly PathSegment[]): SourceSpan {
    const { node, key } = this.locate(path);
    return this.spanOfNode(node ?? key);
  }

  /** Span of the key naming the value at `path`; falls back to the value (sequence items have no key). */
  spanOfKey(path: readonly PathSegment[]): SourceSpan {
    const found = this.locate(path);
    if (found.depth === path.length) return this.spanOfNode(found.key ?? found.node);
    return this.spanOfNode(found.node ?? found.key);
  }

  /**
   * Span of `needle` inside the string value at `path`, so a bad `${params.x}`
   * is underlined on its own rather than the whole string.
   */
  spanOfSubstring(path: readonly PathSegment[], needle: string): SourceSpan {
    const { node } = this.locate(path);
    if (node?.range) {
      const [start, , end] = node.range;
      const at = this.text.slice(start, end).indexOf(needle);
      if (at !== -1) return this.spanOfRange(start + at, start + at + needle.length);
    }
    return this.spanOfValue(path);
  }

  private spanOfNode(node: Node | undefined): SourceSpan {
    const range = node?.range ?? this.doc.contents?.range;
    if (!range) return { file: this.file, line: 1, col: 1, length: 1 };
    return this.spanOfRange(range[0], range[1]);
  }

  /** Walk the document along a JSON path, following aliases, keeping the deepest node reached. */
  private locate(path: readonly PathSegment[]): Located {
    let node: unknown = this.doc.contents;
    let key: Node | undefined;
    let depth = 0;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: unknown;
      let nextKey: Node | undefined;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && scalarText(item.key) === String(segment));
        if (pair) {
          next = pair.value;
          nextKey = pair.key as Node;
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      }
      if (next === undefined && nextKey === undefined) break;
      node = next;
      key = nextKey;
      depth++;
      if (next === null || next === undefined) break;
    }
    if (isAlias(node)) node = node.resolve(this.doc);
    return { node: (node ?? undefined) as Node | undefined, key, depth };
  }
}

function scalarText(node: unknown): string | undefined {
  return isScalar(node) ? String(node.value) : undefined;
}
