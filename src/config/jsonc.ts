import { parseTree, type Node as JsonNode, type ParseError } from 'jsonc-parser';

/**
 * The value of a JSONC tree with every key an own property, as JSON.parse (and so a host) reads it: a key named
 * `__proto__` is a key, not the object's prototype (jsonc-parser's own `parse` assigns it, and the entry vanished
 * from Object.keys). A key written twice keeps its last value, as JSON.parse does.
 */
export function treeValue(n: JsonNode): unknown {
  switch (n.type) {
    case 'object':
      return Object.fromEntries((n.children ?? []).map((p) => [p.children![0]!.value as string, p.children![1] ? treeValue(p.children![1]) : null]));
    case 'array':
      return (n.children ?? []).map(treeValue);
    default:
      return n.value;
  }
}

/** JSON with comments and trailing commas, read as a host reads it (treeValue); `errors` receives what is wrong. */
export function parseJsoncText(text: string, errors: ParseError[] = []): unknown {
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  return root ? treeValue(root) : undefined;
}
