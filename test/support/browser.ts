// A real headless Chromium (Debian's `chromium` package) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: fds 3 and 4, NUL-terminated JSON), so browser tests need no npm dependency and
// no debugging port. Input goes through Input.* events, as a person's typing and clicks would.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The browser binary; throws saying how to install it (tests that need it must not be skipped). */
export function findChromium(): string {
  const env = process.env.CHROMIUM_BIN;
  if (env) return env;
  for (const bin of CANDIDATES) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0) return bin;
  }
  throw new Error('no Chromium found; install it with: apt-get update && apt-get install -y chromium');
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  method: string;
}

/** The fields of the events a page listens to. */
interface CdpEventParams {
  exceptionDetails?: { text: string; exception?: { description?: string } };
  type?: string;
  args?: { value?: unknown }[];
}

export interface Page {
  /** Navigates and resolves when the load event fired. */
  goto(url: string, timeoutMs?: number): Promise<void>;
  /** Evaluates an expression in the page (promises awaited) and returns its value. */
  eval<T>(expression: string): Promise<T>;
  /** Polls `expression` until it is truthy and returns that value; throws naming `what` after `timeoutMs`. */
  waitFor<T>(what: string, expression: string, timeoutMs?: number): Promise<T>;
  /** Clicks the middle of the first element matching `selector` with the mouse. */
  click(selector: string): Promise<void>;
  /** Focuses `selector` by clicking it, selects what it holds, and types `text` over it. */
  type(selector: string, text: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
  /** Writes a PNG of the viewport (the full page with `fullPage`). */
  screenshot(file: string, opts?: { fullPage?: boolean }): Promise<void>;
  /** Uncaught exceptions and console errors seen so far. */
  readonly errors: string[];
}

export interface Browser {
  newPage(width?: number, height?: number): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'zkbio-chromium-'));
  const proc: ChildProcess = spawn(
    findChromium(),
    [
      '--headless=new',
      '--no-sandbox', // tests run as root in CI containers
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--hide-scrollbars',
      '--remote-debugging-pipe',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const toBrowser = proc.stdio[3] as Writable;
  const fromBrowser = proc.stdio[4] as Readable;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(msg: { method: string; params: unknown; sessionId?: string }) => void>();
  let nextId = 1;
  let buf = '';
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`chromium exited during ${p.method}`));
      pending.clear();
      resolve();
    }),
  );
  fromBrowser.setEncoding('utf8');
  fromBrowser.on('data', (chunk: string) => {
    buf += chunk;
    for (let end = buf.indexOf('\0'); end >= 0; end = buf.indexOf('\0')) {
      const msg = JSON.parse(buf.slice(0, end));
      buf = buf.slice(end + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p?.resolve(msg.result);
      } else for (const l of listeners) l(msg);
    }
  });
  const send = <T>(method: string, params: object = {}, sessionId?: string): Promise<T> => {
    if (exited) return Promise.reject(new Error(`chromium is gone; cannot ${method}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      toBrowser.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  };
  await send('Browser.getVersion');

  const newPage = async (width = 1280, height = 800): Promise<Page> => {
    const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', {
      targetId,
      flatten: true,
    });
    const call = <T>(method: string, params: object = {}) => send<T>(method, params, sessionId);
    const errors: string[] = [];
    const loads: (() => void)[] = [];
    listeners.add((msg) => {
      if (msg.sessionId !== sessionId) return;
      const p = msg.params as CdpEventParams;
      if (msg.method === 'Page.loadEventFired') {
        for (const f of loads.splice(0)) f();
      } else if (msg.method === 'Runtime.exceptionThrown')
        errors.push(p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? 'exception');
      else if (msg.method === 'Runtime.consoleAPICalled' && p.type === 'error')
        errors.push((p.args ?? []).map((a) => String(a.value)).join(' '));
    });
    await call('Page.enable');
    await call('Runtime.enable');
    const evalIn = async <T>(expression: string): Promise<T> => {
      const r = await call<{
        result: { value: T };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
      if (r.exceptionDetails)
        throw new Error(
          `in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`,
        );
      return r.result.value;
    };
    const centre = async (selector: string) => {
      const box = await evalIn<{ x: number; y: number } | null>(
        `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null;
          e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect();
          return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
      );
      if (!box) throw new Error(`no element matches ${selector}`);
      return box;
    };
    const click = async (selector: string) => {
      const { x, y } = await centre(selector);
      for (const type of ['mousePressed', 'mouseReleased'])
        await call('Input.dispatchMouseEvent', { type, x, y, button: 'left', clickCount: 1 });
    };
    const page: Page = {
      errors,
      async goto(url, timeoutMs = 10_000) {
        const loaded = new Promise<void>((resolve, reject) => {
          const t = setTimeout(
            () => reject(new Error(`${url} did not load within ${timeoutMs} ms`)),
            timeoutMs,
          );
          loads.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
        const r = await call<{ errorText?: string }>('Page.navigate', { url });
        if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
        await loaded;
      },
      eval: evalIn,
      async waitFor<T>(what: string, expression: string, timeoutMs = 10_000): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const v = await evalIn<T>(expression);
          if (v) return v;
          if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      click,
      async type(selector, text) {
        await click(selector);
        await evalIn(`document.querySelector(${JSON.stringify(selector)}).select()`);
        await call('Input.insertText', { text });
      },
      async setViewport(w, h) {
        await call('Emulation.setDeviceMetricsOverride', {
          width: w,
          height: h,
          deviceScaleFactor: 1,
          mobile: false,
        });
      },
      async screenshot(file, opts = {}) {
        let clip: object | undefined;
        if (opts.fullPage) {
          const { cssContentSize: c } = await call<{ cssContentSize: { width: number; height: number } }>(
            'Page.getLayoutMetrics',
          );
          clip = { x: 0, y: 0, width: c.width, height: c.height, scale: 1 };
        }
        const { data } = await call<{ data: string }>('Page.captureScreenshot', {
          format: 'png',
          captureBeyondViewport: opts.fullPage === true,
          clip,
        });
        writeFileSync(file, Buffer.from(data, 'base64'));
      },
    };
    await page.setViewport(width, height);
    return page;
  };

  return {
    newPage,
    async close() {
      if (!exited) {
        void send('Browser.close').catch(() => {});
        const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(kill);
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
