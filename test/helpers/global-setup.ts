import { existsSync } from 'node:fs';
import path from 'node:path';

export default function setup(): void {
  const cli = path.resolve(__dirname, '../../dist/cli/index.js');
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
}
