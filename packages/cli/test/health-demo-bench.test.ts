import { describe, expect, it } from 'vitest';
import { KAFKA_URL, passwordOf, RABBITMQ_URL, runCli } from './helpers.js';

describe('switchyard health', () => {
  it.each([
    ['memory', 'memory://', 'memory'],
    ['rabbitmq', RABBITMQ_URL, 'amqp'],
    ['kafka', KAFKA_URL, 'kafka'],
  ])('%s: healthy, exit 0, capabilities listed, no password', async (_name, url, transport) => {
    const { code, stdout } = await runCli(['health', url]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^healthy .* \\(${transport}\\)$`, 'm'));
    expect(stdout).toMatch(/^ {2}maxPayloadBytes +\d+$/m);
    if (passwordOf(url)) expect(stdout).not.toContain(`:${passwordOf(url)}@`);
  });

  it('--json: one object a script can read', async () => {
    const { code, stdout } = await runCli(['health', 'memory://', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ url: 'memory://', ok: true, transport: 'memory', capabilities: { fanOut: true } });
  });

  it('an unreachable broker is unhealthy (exit 1) and the password is never echoed', async () => {
    const url = 'amqp://ops:pa55-w0rd@127.0.0.1:1';
    const { code, stdout, stderr } = await runCli(['health', url]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^unhealthy: Cannot connect to RabbitMQ at amqp:\/\/ops:\*\*\*@127\.0\.0\.1:1/m);
    expect(stdout + stderr).not.toContain(passwordOf(url));
  });
});

describe('switchyard demo', () => {
  it('tells the order story on memory: three placed, one rejected, the malformed order dead-lettered by both consumers', async () => {
    const { code, stdout } = await runCli(['demo']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/dead letter from notifications: ord-\w+-99 — .*customerEmail/);
    expect(stdout).toMatch(/dead letter from reporting: ord-\w+-99/);
    expect(stdout).toContain('Done: 3 placed, 1 rejected by inventory, 3 notified, 3 reported, 2 dead-lettered.');
  });

  it('on RabbitMQ, given as the URL argument', async () => {
    const { code, stdout } = await runCli(['demo', RABBITMQ_URL]);
    expect(code).toBe(0);
    expect(stdout).toContain('Connecting four services to amqp://guest:***@127.0.0.1:5672');
    expect(stdout).toContain('Done: 3 placed, 1 rejected by inventory, 3 notified, 3 reported, 2 dead-lettered.');
  });
});

describe('switchyard bench', () => {
  // In this repository the bench workspace (@switchyard/bench) is installed, so the command runs
  // the harness: Switchyard next to the raw anchor. The built-in run (no harness installed, as for
  // an app's npm install) is driven by the packaging stage from a fresh app.
  it('runs the harness next to the raw anchor on memory: one ratio line per chosen scenario', async () => {
    const { code, stdout } = await runCli(['bench', 'memory://', '--scale', '0.02', '--only', 'publish-64', '--only', 'e2e-c16']);
    expect(code).toBe(0);
    for (const scenario of ['publish 64 in flight', 'publish → handler c16']) {
      expect(stdout).toMatch(new RegExp(`^memory ${scenario} +[\\d,]+/s +[\\d,]+/s +\\d+\\.\\d\\d `, 'm'));
    }
    expect(stdout).not.toMatch(/request\/reply/);
  });
});
