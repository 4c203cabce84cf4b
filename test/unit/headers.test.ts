import { describe, expect, it } from 'vitest';
import { checkParamHeaders, checkStandardHeaders, decodeHeaderValue, encodeHeaderValue, headerDeclarations } from '../../src/protocol/headers.js';

describe('mirrored header values', () => {
  it('round-trips plain and non-ASCII values', () => {
    for (const v of ['get_weather', 'Tokyo', 'München', ' padded ', '', 'a\nb', '=?base64?x?=', '日本語']) {
      expect(decodeHeaderValue(encodeHeaderValue(v))).toBe(v);
    }
    expect(encodeHeaderValue('get_weather')).toBe('get_weather');
    expect(encodeHeaderValue('München')).toBe('=?base64?TcO8bmNoZW4=?=');
  });

  it('refuses malformed base64', () => {
    expect(decodeHeaderValue('=?base64?TcO8bmNoZW4?=')).toBeUndefined();
    expect(decodeHeaderValue('=?base64?//79?=')).toBeUndefined();
  });
});

describe('x-mcp-header declarations', () => {
  it('finds declarations on properties and reports misplaced ones', () => {
    const ok = headerDeclarations({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer', 'x-mcp-header': 'N' } } });
    expect(ok.fault).toBeUndefined();
    expect(ok.declarations.map((d) => d.header)).toEqual(['Region', 'N']);
    expect(headerDeclarations({ type: 'object', properties: { a: { type: 'array', items: { type: 'string', 'x-mcp-header': 'A' } } } }).fault).toMatch(/only allowed/);
    expect(headerDeclarations({ type: 'object', properties: { a: { type: 'number', 'x-mcp-header': 'A' } } }).fault).toMatch(/type/);
    expect(headerDeclarations({ type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A' }, b: { type: 'string', 'x-mcp-header': 'a' } } }).fault).toMatch(/twice/);
  });
});

describe('header/body checks', () => {
  const h = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
  it('accepts matching headers', () => {
    expect(checkStandardHeaders(h, 'tools/call', { name: 'echo' }, '2026-07-28', true)).toBeUndefined();
  });
  it('refuses mismatches and missing headers', () => {
    expect(checkStandardHeaders({ ...h, 'mcp-name': 'other' }, 'tools/call', { name: 'echo' }, '2026-07-28', true)?.code).toBe(-32020);
    expect(checkStandardHeaders({ ...h, 'mcp-method': 'tools/list' }, 'tools/call', { name: 'echo' }, '2026-07-28', true)?.code).toBe(-32020);
    expect(checkStandardHeaders({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, 'tools/call', { name: 'echo' }, '2026-07-28', true)?.code).toBe(-32020);
    const { 'mcp-name': _n, ...noName } = h;
    expect(checkStandardHeaders(noName, 'tools/call', { name: 'echo' }, '2026-07-28', true)?.code).toBe(-32020);
  });
  it('checks Mcp-Param headers against arguments', () => {
    const decl = headerDeclarations({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer', 'x-mcp-header': 'N' } } }).declarations;
    expect(checkParamHeaders({ 'mcp-param-region': 'eu', 'mcp-param-n': '3' }, decl, { region: 'eu', n: 3 })).toBeUndefined();
    expect(checkParamHeaders({ 'mcp-param-region': 'us', 'mcp-param-n': '3' }, decl, { region: 'eu', n: 3 })?.code).toBe(-32020);
    expect(checkParamHeaders({ 'mcp-param-n': '3' }, decl, { region: 'eu', n: 3 })?.code).toBe(-32020);
    expect(checkParamHeaders({}, decl, {})).toBeUndefined();
  });
});
