/**
 * The policy in force, reloaded when its files change. A change is loaded and validated completely before it
 * replaces the old policy in one assignment; a file that does not validate keeps the last good policy.
 */
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { SessionEvents } from '../proxy/session.js';
import { refuseChangeableByOthers } from '../config/files.js';
import { loadPolicyFiles } from './load.js';
import type { Policy } from './types.js';

export class PolicyHolder {
  private current: Policy;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private lastText = '';
  reloads = 0;
  failures = 0;

  constructor(
    private readonly files: string[],
    private readonly log: Logger,
    private readonly events?: SessionEvents,
  ) {
    this.current = loadPolicyFiles(files);
    this.lastText = this.snapshot();
  }

  get policy(): Policy {
    return this.current;
  }

  /** Watches the files' directories (editors replace files rather than write them) and polls as a fallback. */
  watch(intervalMs = 1000): void {
    const dirs = new Set(this.files.map((f) => path.dirname(path.resolve(f))));
    const names = new Set(this.files.map((f) => path.basename(f)));
    for (const dir of dirs) {
      try {
        const w = watch(dir, (_e, name) => {
          if (!name || names.has(String(name))) this.schedule();
        });
        w.on('error', () => undefined);
        w.unref();
        this.watchers.push(w);
      } catch {
        /* polling covers it */
      }
    }
    this.poll = setInterval(() => {
      if (this.snapshot() !== this.lastText) this.schedule();
    }, intervalMs);
    this.poll.unref();
  }

  /** The files' text and modes: a chmod that lets every user write one is a change too (reload refuses it). */
  private snapshot(): string {
    return this.files
      .map((f) => {
        try {
          return `${statSync(f).mode}\0${readFileSync(f, 'utf8')}`;
        } catch {
          return '\0missing';
        }
      })
      .join('\0');
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), 150);
    this.timer.unref();
  }

  /** Loads the files again; returns whether the new policy is in force. */
  reload(): boolean {
    const text = this.snapshot();
    if (text === this.lastText) return true;
    try {
      // As at start (assemble): a file another user could have written is not loaded.
      for (const f of this.files) refuseChangeableByOthers(f, 'a policy file');
      const next = loadPolicyFiles(this.files);
      const before = this.current.version;
      this.current = next;
      this.lastText = text;
      this.reloads++;
      this.log.info({ version: next.version, previous: before }, 'policy reloaded');
      this.events?.event('policy_reload', { server: '*' }, { status: 'ok', version: next.version, previous: before, files: this.files });
      return true;
    } catch (e) {
      this.lastText = text;
      this.failures++;
      const reason = (e as Error).message.split('\n')[0]!.slice(0, 400);
      this.log.error({ reason, version: this.current.version }, 'policy reload failed; the last good policy stays in force');
      this.events?.event('policy_reload', { server: '*' }, { status: 'failed', reason, version: this.current.version, files: this.files });
      return false;
    }
  }

  close(): void {
    for (const w of this.watchers) w.close();
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
  }
}
